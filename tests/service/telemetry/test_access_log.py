"""One access line per request (method, route template, status, duration, request id), and
``X-Request-ID`` accepted when well-formed, generated otherwise, echoed either way."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service

GENERATED = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
async def one_driver(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    """Logging does not depend on the driver."""
    async with live_service(mongo_server.uri, driver="pymongo") as live:
        yield live


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        {
            key: getattr(record, key, None)
            for key in ("method", "route", "status", "duration_ms", "request_id")
        }
        for record in caplog.records
        if record.name == "gale.access"
    ]


async def test_request_ids(one_driver: LiveService) -> None:
    given = "req-42.a_b:c"
    ok = await one_driver.fetch("/api/v1/items", headers={"X-Request-ID": given})
    assert ok.headers["X-Request-ID"] == given
    failed = await one_driver.fetch("/api/v1/items/nope", headers={"X-Request-ID": given})
    assert failed.code == 404
    assert failed.headers["X-Request-ID"] == given
    for bad in ("has spaces", "x" * 129, 'quote"d', "ünï"):
        response = await one_driver.fetch("/livez", headers={"X-Request-ID": bad})
        assert GENERATED.match(response.headers["X-Request-ID"]), bad
    first = await one_driver.fetch("/livez")
    second = await one_driver.fetch("/livez")
    assert GENERATED.match(first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


async def test_one_access_line_per_request(
    one_driver: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gale.access")
    created = await one_driver.fetch(
        "/api/v1/items", method="POST", json_body={"name": "x"}, headers={"X-Request-ID": "c-1"}
    )
    await one_driver.fetch(created.headers["Location"], headers={"X-Request-ID": "r-1"})
    await one_driver.fetch("/no/such/path", headers={"X-Request-ID": "u-1"})
    lines = {line["request_id"]: line for line in access_lines(caplog)}
    assert lines["c-1"]["method"] == "POST"
    assert lines["c-1"]["route"] == "/api/v1/items"
    assert lines["c-1"]["status"] == 201
    assert lines["r-1"]["route"] == "/api/v1/items/{item_id}", "the template, not the path"
    assert lines["r-1"]["status"] == 200
    assert lines["u-1"]["route"] == "unmatched"
    assert lines["u-1"]["status"] == 404
    assert all(isinstance(line["duration_ms"], float) for line in lines.values())
    assert [line["request_id"] for line in access_lines(caplog)].count("r-1") == 1
