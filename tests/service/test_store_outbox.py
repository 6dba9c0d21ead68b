"""The transactional outbox: every write and its event commit together, or neither does."""

from __future__ import annotations

import asyncio
import json

import pytest
from pymongo.errors import DuplicateKeyError

from tests.service.harness import LiveService


async def test_each_write_appends_its_event(service: LiveService) -> None:
    created = await service.fetch("/api/v1/items", method="POST", json_body={"name": "a"})
    item = json.loads(created.body)
    path = f"/api/v1/items/{item['id']}"
    await service.fetch(path, method="PUT", json_body={"name": "b", "tags": ["t"]})
    await service.fetch(path, method="DELETE")
    events = [event async for event in service.services.store.events.since(0)]
    assert [(e["_id"], e["type"]) for e in events] == [
        (1, "item.created"),
        (2, "item.updated"),
        (3, "item.deleted"),
    ]
    assert {str(e["item_id"]) for e in events} == {item["id"]}
    assert events[1]["item"]["name"] == "b"
    assert events[1]["tags"] == ["t"]
    assert events[0]["at"] <= events[1]["at"] <= events[2]["at"]
    after_first = [event["_id"] async for event in service.services.store.events.since(1)]
    assert after_first == [2, 3]


async def test_concurrent_writers_get_a_gap_free_sequence(service: LiveService) -> None:
    writers = 12
    responses = await asyncio.gather(
        *(
            service.fetch("/api/v1/items", method="POST", json_body={"name": f"w{n}"})
            for n in range(writers)
        )
    )
    assert [r.code for r in responses] == [201] * writers
    ids = [json.loads(r.body)["id"] for r in responses]
    updates = await asyncio.gather(
        *(
            service.fetch(f"/api/v1/items/{item_id}", method="PUT", json_body={"name": "u"})
            for item_id in ids
        )
    )
    assert [r.code for r in updates] == [200] * writers
    store = service.services.store
    events = [event async for event in store.events.since(0)]
    assert [event["_id"] for event in events] == list(range(1, 2 * writers + 1))
    assert await store.events.last_sequence() == 2 * writers
    created = [str(e["item_id"]) for e in events if e["type"] == "item.created"]
    updated = [str(e["item_id"]) for e in events if e["type"] == "item.updated"]
    assert sorted(created) == sorted(ids)
    assert sorted(updated) == sorted(ids)


async def test_a_failing_write_leaves_neither_item_nor_event(service: LiveService) -> None:
    store = service.services.store
    kept = await store.create({"name": "kept", "description": "", "tags": []}, owner="me")
    # Occupy the next sequence number so the event insert fails after the item insert and
    # the counter bump already happened inside the transaction.
    events = service.services.gateway.collection("events")
    await events.insert_one({"_id": 2, "type": "squatter"})
    with pytest.raises(DuplicateKeyError):
        await store.create({"name": "lost", "description": "", "tags": []}, owner="me")
    with pytest.raises(DuplicateKeyError):
        await store.replace(kept["id"], {"name": "changed", "description": "", "tags": []})
    with pytest.raises(DuplicateKeyError):
        await store.delete(kept["id"])
    page = await store.list(limit=10)
    assert [item["name"] for item in page.items] == ["kept"]
    assert page.items[0]["version"] == 1
    assert await store.events.last_sequence() == 1
    assert [e["type"] async for e in store.events.since(0)] == ["item.created", "squatter"]
