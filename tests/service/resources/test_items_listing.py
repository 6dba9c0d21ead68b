"""Listing: keyset pages with an opaque cursor, a tag filter, and stability under writes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.service.harness import LiveService


async def create(service: LiveService, name: str, tags: list[str] | None = None) -> str:
    response = await service.fetch(
        "/api/v1/items", method="POST", json_body={"name": name, "tags": tags or []}
    )
    assert response.code == 201
    item_id: str = json.loads(response.body)["id"]
    return item_id


async def page(service: LiveService, query: str) -> dict[str, Any]:
    response = await service.fetch(f"/api/v1/items{query}")
    assert response.code == 200, response.body
    document: dict[str, Any] = json.loads(response.body)
    return document


async def test_empty_collection(service: LiveService) -> None:
    assert await page(service, "") == {"items": [], "next_cursor": None}


async def test_default_limit_is_20_and_pages_are_stable(service: LiveService) -> None:
    ids = [await create(service, f"item {n}") for n in range(23)]
    first = await page(service, "")
    assert [item["id"] for item in first["items"]] == ids[:20]
    assert isinstance(first["next_cursor"], str)
    second = await page(service, f"?cursor={first['next_cursor']}")
    assert [item["id"] for item in second["items"]] == ids[20:]
    assert second["next_cursor"] is None
    again = await page(service, "")
    assert again == first


async def test_limit_bounds(service: LiveService) -> None:
    for _ in range(3):
        await create(service, "x")
    assert len((await page(service, "?limit=1"))["items"]) == 1
    assert len((await page(service, "?limit=100"))["items"]) == 3
    for bad in ("0", "101", "-1", "abc", "1.5", ""):
        response = await service.fetch(f"/api/v1/items?limit={bad}")
        assert response.code == 400, bad
        problem = json.loads(response.body)
        assert problem["errors"][0]["field"] == "limit"


async def test_tag_filter_and_cursor_bound_to_it(service: LiveService) -> None:
    red = [await create(service, f"red {n}", ["red"]) for n in range(3)]
    await create(service, "blue", ["blue"])
    first = await page(service, "?tag=red&limit=2")
    assert [item["id"] for item in first["items"]] == red[:2]
    rest = await page(service, f"?tag=red&limit=2&cursor={first['next_cursor']}")
    assert [item["id"] for item in rest["items"]] == red[2:]
    mixed = await service.fetch(f"/api/v1/items?tag=blue&cursor={first['next_cursor']}")
    assert mixed.code == 400
    assert json.loads(mixed.body)["type"].endswith("/bad-cursor")


async def test_cursors_this_service_did_not_issue_are_400(service: LiveService) -> None:
    for cursor in ("garbage", "eyJhIjoxfQ", "!!!", "e30", "%1A", "+", "%20e30"):
        response = await service.fetch(f"/api/v1/items?cursor={cursor}")
        assert response.code == 400, cursor
        assert response.headers["Content-Type"].startswith("application/problem+json")


async def test_paging_while_others_write_skips_and_repeats_nothing(service: LiveService) -> None:
    """Every item that existed when paging began is seen exactly once, whatever happens."""
    before = [await create(service, f"old {n}") for n in range(30)]
    deleted = set(before[10:15])
    seen: list[str] = []
    cursor: str | None = None
    written = 0
    while True:
        query = "?limit=7" + (f"&cursor={cursor}" if cursor else "")
        result = await page(service, query)
        seen.extend(item["id"] for item in result["items"])
        # Between pages: inserts, updates of items not yet seen, and deletes.
        writes = [create(service, f"new {written}")]
        if written == 0:
            writes += [
                service.fetch(f"/api/v1/items/{item_id}", method="DELETE") for item_id in deleted
            ]
            writes += [
                service.fetch(f"/api/v1/items/{item_id}", method="PUT", json_body={"name": "moved"})
                for item_id in before[20:25]
            ]
        await asyncio.gather(*writes)
        written += 1
        cursor = result["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "an item was repeated"
    survivors = [item_id for item_id in before if item_id not in deleted]
    assert [item_id for item_id in seen if item_id in set(before)] == survivors
