"""``GET /api/v1/export/items``: every item as NDJSON, streamed in flushed chunks."""

from __future__ import annotations

import gzip
import json

from tests.service.harness import LiveService

NDJSON = {"Content-Type": "application/x-ndjson"}


async def test_export_streams_every_item_in_order(service: LiveService) -> None:
    lines = "\n".join(json.dumps({"name": f"n{n}", "tags": ["x"]}) for n in range(450))
    imported = await service.fetch(
        "/api/v1/import/items", method="POST", body=lines, headers=NDJSON
    )
    assert imported.code == 201
    ids = json.loads(imported.body)["ids"]

    chunks: list[bytes] = []
    response = await service.fetch(
        "/api/v1/export/items",
        headers={"Accept": "application/x-ndjson"},
        streaming_callback=chunks.append,
    )
    assert response.code == 200
    assert response.headers["Content-Type"] == "application/x-ndjson"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers.get("Transfer-Encoding") == "chunked", "streamed, not buffered"
    assert len(chunks) > 1
    exported = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
    assert [item["id"] for item in exported] == ids
    assert exported[0]["name"] == "n0"
    assert set(exported[0]) == {
        "id",
        "name",
        "description",
        "tags",
        "owner",
        "created_at",
        "updated_at",
        "version",
    }


async def test_empty_export_and_negotiation(service: LiveService) -> None:
    empty = await service.fetch("/api/v1/export/items")
    assert empty.code == 200
    assert empty.body == b""
    refused = await service.fetch("/api/v1/export/items", headers={"Accept": "text/csv"})
    assert refused.code == 406


async def test_export_is_gzipped_when_accepted(service: LiveService) -> None:
    lines = "\n".join(
        json.dumps({"name": f"n{n}", "description": "same " * 20}) for n in range(300)
    )
    await service.fetch("/api/v1/import/items", method="POST", body=lines, headers=NDJSON)
    plain = await service.fetch("/api/v1/export/items")
    zipped = await service.fetch(
        "/api/v1/export/items",
        headers={"Accept-Encoding": "gzip"},
        decompress_response=False,
    )
    assert zipped.code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped.body) < len(plain.body) / 3
    assert gzip.decompress(zipped.body) == plain.body
