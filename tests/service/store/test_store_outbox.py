"""The transactional outbox: every write and its event commit together, or neither does."""

from __future__ import annotations

import asyncio
import json

import pytest
from gale_service.store import StoreUnavailable
from gale_service.store.events import ABANDONED
from pymongo.errors import DuplicateKeyError

from tests.service.clients import connect, frame, subscribe
from tests.service.harness import LiveService


async def test_each_write_appends_its_event(service: LiveService) -> None:
    created = await service.fetch("/api/v1/items", method="POST", json_body={"name": "a"})
    item = json.loads(created.body)
    path = f"/api/v1/items/{item['id']}"
    await service.fetch(path, method="PUT", json_body={"name": "b", "tags": ["t"]})
    await service.fetch(path, method="DELETE")
    events = [event async for event in service.services.events.since(0)]
    assert [(e["_id"], e["type"]) for e in events] == [
        (1, "item.created"),
        (2, "item.updated"),
        (3, "item.deleted"),
    ]
    assert {str(e["item_id"]) for e in events} == {item["id"]}
    assert events[1]["item"]["name"] == "b"
    assert events[1]["tags"] == ["t"]
    assert events[0]["at"] <= events[1]["at"] <= events[2]["at"]
    after_first = [event["_id"] async for event in service.services.events.since(1)]
    assert after_first == [2, 3]


async def test_concurrent_writers_that_all_commit_leave_no_gap(service: LiveService) -> None:
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
    store = service.services.stores["items"]
    events = [event async for event in store.events.since(0)]
    assert [event["_id"] for event in events] == list(range(1, 2 * writers + 1))
    assert await store.events.last_sequence() == 2 * writers
    created = [str(e["item_id"]) for e in events if e["type"] == "item.created"]
    updated = [str(e["item_id"]) for e in events if e["type"] == "item.updated"]
    assert sorted(created) == sorted(ids)
    assert sorted(updated) == sorted(ids)


async def test_a_failing_write_leaves_neither_item_nor_event(service: LiveService) -> None:
    store = service.services.stores["items"]
    kept = await store.create({"name": "kept", "description": "", "tags": []}, owner="me")
    # Occupy the next positions, as a reader's tombstone would, so each event insert fails
    # after the item write and the allocation already happened.
    events = service.services.gateway.collection("events")
    await events.insert_many([{"_id": n, "type": "squatter"} for n in (2, 3, 4)])
    with pytest.raises(StoreUnavailable):
        await store.create({"name": "lost", "description": "", "tags": []}, owner="me")
    with pytest.raises(StoreUnavailable):
        await store.replace(kept["id"], {"name": "changed", "description": "", "tags": []})
    with pytest.raises(StoreUnavailable):
        await store.delete(kept["id"])
    page = await store.list(limit=10)
    assert [item["name"] for item in page.documents] == ["kept"]
    assert page.documents[0]["version"] == 1
    assert [e["type"] async for e in store.events.since(0)] == ["item.created"] + ["squatter"] * 3
    after = await store.create({"name": "after", "description": "", "tags": []}, owner="me")
    assert [(e["_id"], e["type"]) async for e in store.events.since(4)] == [(5, "item.created")]
    assert await store.events.last_sequence() == 5
    assert (await store.get(after["id"]))["name"] == "after"


async def test_the_frontier_waits_for_an_allocated_position_then_abandons_it(
    service: LiveService,
) -> None:
    """A position allocated by a writer that never commits (it crashed, say) holds the
    frontier back only until the gap timeout; then a tombstone fences it for good."""
    store = service.services.stores["items"]
    follower = service.services.feed.follower
    hub = service.services.feed.hub
    await store.create({"name": "one", "description": "", "tags": []}, owner="me")
    await follower.catch_up()
    start = hub.position
    assert start is not None
    counters = service.services.gateway.collection("counters")
    await counters.update_one({"_id": "events"}, {"$inc": {"seq": 1}})  # a writer that died
    await store.create({"name": "two", "description": "", "tags": []}, owner="me")
    await follower.catch_up()
    assert hub.position == start, "never past a position that may still commit"
    assert await store.events.last_sequence() == start

    store.events.gap_timeout = 0.0
    await follower.catch_up()
    assert hub.position == start + 2
    entries = [(e["_id"], e["type"]) async for e in store.events.since(start)]
    assert entries == [(start + 1, ABANDONED), (start + 2, "item.created")]
    # The dead writer's late insert cannot land on the fenced position.
    with pytest.raises(DuplicateKeyError):
        await service.services.gateway.collection("events").insert_one(
            {"_id": start + 1, "type": "item.created"}
        )


async def test_a_failed_write_fences_its_positions_at_once(service: LiveService) -> None:
    """A writer whose transaction fails tombstones the positions it took right away, so
    the feed moves past them without waiting for the readers' gap timeout."""
    store = service.services.stores["items"]
    watcher = await connect(service, token=service.token)
    await subscribe(watcher)
    counters = service.services.gateway.collection("counters")
    allocated = (await counters.find_one({"_id": "events"}) or {"seq": 0})["seq"]
    squatted = allocated + 50  # inside the 100 positions the import is about to take
    await service.services.gateway.collection("events").insert_one(
        {"_id": squatted, "type": "squatter"}
    )
    many = [{"name": f"n{n}", "description": "", "tags": []} for n in range(100)]
    with pytest.raises(StoreUnavailable):
        await store.create_many(many, owner="me")
    began = asyncio.get_running_loop().time()
    after = await store.create({"name": "after", "description": "", "tags": []}, owner="me")
    event = await frame(watcher, timeout=store.events.gap_timeout)
    assert event["item"]["id"] == after["id"]
    assert asyncio.get_running_loop().time() - began < store.events.gap_timeout / 2
    kinds = {e["type"] async for e in store.events.since(allocated, up_to=allocated + 100)}
    assert kinds == {ABANDONED, "squatter"}
    watcher.close()
