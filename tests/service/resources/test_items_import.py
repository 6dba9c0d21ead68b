"""``POST /api/v1/import/items``: NDJSON parsed in the process pool, stored all or nothing."""

from __future__ import annotations

import asyncio
import json

from gale_service.bulk import MAX_IMPORT_LINES, parse_lines
from gale_service.resources.items.models import ItemImport

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service

NDJSON = {"Content-Type": "application/x-ndjson"}


def ndjson(*documents: object) -> str:
    return "\n".join(json.dumps(document) for document in documents) + "\n"


async def event_count(service: LiveService) -> int:
    return await service.services.events.last_sequence()


async def test_import_creates_every_line_with_its_event(service: LiveService) -> None:
    body = ndjson({"name": "a", "tags": ["t"]}, {"name": "b", "description": "d"}) + "\n\r\n"
    response = await service.fetch("/api/v1/import/items", method="POST", body=body, headers=NDJSON)
    assert response.code == 201, response.body
    result = json.loads(response.body)
    assert result["created"] == 2
    page = json.loads((await service.fetch("/api/v1/items")).body)
    assert [item["id"] for item in page["items"]] == result["ids"]
    assert [item["name"] for item in page["items"]] == ["a", "b"]
    events = [event async for event in service.services.events.since(0)]
    assert [(e["_id"], e["type"]) for e in events] == [(1, "item.created"), (2, "item.created")]
    assert [str(e["item_id"]) for e in events] == result["ids"]


async def test_rejected_imports_store_nothing(service: LiveService) -> None:
    await service.fetch("/api/v1/items", method="POST", json_body={"name": "existing"})
    cases = [
        (ndjson({"name": "ok"}) + "{broken\n", {"Content-Type": "application/x-ndjson"}, 400),
        (ndjson({"name": "ok"}, {"name": ""}, {"tags": "x"}), NDJSON, 422),
        (ndjson({"name": "ok"}), {"Content-Type": "application/json"}, 415),
        ("\n\n", NDJSON, 422),
        (ndjson(*({"name": "n"} for _ in range(MAX_IMPORT_LINES + 1))), NDJSON, 422),
    ]
    for body, headers, status in cases:
        response = await service.fetch(
            "/api/v1/import/items", method="POST", body=body, headers=headers
        )
        assert response.code == status, (status, response.body)
        assert response.headers["Content-Type"].startswith("application/problem+json")
    page = json.loads((await service.fetch("/api/v1/items")).body)
    assert [item["name"] for item in page["items"]] == ["existing"]
    assert await event_count(service) == 1


async def test_every_bad_line_is_listed(service: LiveService) -> None:
    body = ndjson({"name": "ok"}, {"name": ""}, {"name": "x", "tags": "x"}) + "nope\n"
    response = await service.fetch("/api/v1/import/items", method="POST", body=body, headers=NDJSON)
    assert response.code == 400
    assert [e["field"] for e in json.loads(response.body)["errors"]] == ["line 4"]
    body = ndjson({"name": "ok"}, {"name": ""}, {"name": "x", "tags": "x", "extra": 1})
    response = await service.fetch("/api/v1/import/items", method="POST", body=body, headers=NDJSON)
    fields = [e["field"] for e in json.loads(response.body)["errors"]]
    assert fields == ["line 2.name", "line 3.tags", "line 3.extra"]


def test_parser_is_pure() -> None:
    parsed = parse_lines(b'{"name": "a"}\n\n{"name": "b", "tags": ["x"]}', ItemImport)
    assert parsed.documents == [
        {"name": "a", "description": "", "tags": []},
        {"name": "b", "description": "", "tags": ["x"]},
    ]
    assert parsed.broken == parsed.invalid == []
    assert parse_lines(b"\xff\n", ItemImport).broken[0]["field"] == "line 1"
    too_many = parse_lines(b'{"name": "a"}\n' * 3, ItemImport, max_lines=2)
    assert too_many.documents == []
    assert "at most 2" in too_many.invalid[0]["message"]


async def test_a_burst_beyond_the_pool_is_shed_with_503(mongo_server: SecantusServer) -> None:
    """One CPU worker admits 4 queued parses; the rest get 503 + Retry-After at once."""
    async with live_service(mongo_server.uri, cpu_workers=1) as live:
        body = ndjson(*({"name": f"n{n}"} for n in range(200)))
        responses = await asyncio.gather(
            *(
                live.fetch("/api/v1/import/items", method="POST", body=body, headers=NDJSON)
                for _ in range(10)
            )
        )
        codes = sorted(response.code for response in responses)
        assert codes.count(201) >= 4
        shed = [response for response in responses if response.code == 503]
        assert shed, codes
        assert all(response.headers["Retry-After"] == "1" for response in shed)
        assert json.loads(shed[0].body)["type"].endswith("/busy")
        created = codes.count(201) * 200
        assert await live.services.events.last_sequence() == created
