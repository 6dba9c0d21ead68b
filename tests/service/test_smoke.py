"""The walking skeleton answers over real HTTP against a real MongoDB-wire server."""

from __future__ import annotations

import json

from tests.service.harness import LiveService


async def test_create_then_read_back(service: LiveService) -> None:
    created = await service.fetch("/api/v1/items", method="POST", json_body={"name": "first"})
    assert created.code == 201
    location = created.headers["Location"]
    fetched = await service.fetch(location)
    assert fetched.code == 200
    assert json.loads(fetched.body)["name"] == "first"
    assert fetched.headers["ETag"] == created.headers["ETag"]
