"""The database goes away: API answers 503 + Retry-After; it comes back: the service recovers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.mongo import SecantusServer
from tests.service.harness import FAST_FAILING, LiveService, live_service


@pytest.fixture
async def live(own_server: SecantusServer, driver: str) -> AsyncIterator[LiveService]:
    async with live_service(
        own_server.uri,
        driver=driver,
        **FAST_FAILING,
    ) as service:
        yield service


async def until(service: LiveService, path: str, code: int, *, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await service.fetch(path)).code != code:
        assert asyncio.get_running_loop().time() < deadline, f"{path} never answered {code}"
        await asyncio.sleep(0.05)


async def test_outage_then_recovery(own_server: SecantusServer, live: LiveService) -> None:
    created = await live.fetch("/api/v1/items", method="POST", json_body={"name": "survivor"})
    assert created.code == 201
    location = created.headers["Location"]
    await until(live, "/readyz", 200)

    await asyncio.to_thread(own_server.stop)
    await until(live, "/readyz", 503)
    readiness = json.loads((await live.fetch("/readyz")).body)
    assert readiness["reason"].startswith("database")

    started = asyncio.get_running_loop().time()
    requests = [
        live.fetch(location),
        live.fetch("/api/v1/items"),
        live.fetch("/api/v1/items", method="POST", json_body={"name": "lost"}),
        live.fetch(location, method="PUT", json_body={"name": "lost"}),
        live.fetch(location, method="DELETE"),
    ]
    for response in await asyncio.gather(*requests):
        assert response.code == 503, response.body
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert int(response.headers["Retry-After"]) >= 1
        assert json.loads(response.body)["type"].endswith("/database-unavailable")
    assert asyncio.get_running_loop().time() - started < 10, "503s must come quickly"
    assert (await live.fetch("/livez")).code == 200

    await asyncio.to_thread(own_server.start)
    await until(live, "/readyz", 200)
    await until(live, location, 200)
    item = json.loads((await live.fetch(location)).body)
    assert (item["name"], item["version"]) == ("survivor", 1), "nothing changed while down"
    page = json.loads((await live.fetch("/api/v1/items")).body)
    assert [i["name"] for i in page["items"]] == ["survivor"]
    again = await live.fetch("/api/v1/items", method="POST", json_body={"name": "after"})
    assert again.code == 201
