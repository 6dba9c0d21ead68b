"""Concurrent writers never fail on one another, and the live feed stays exact meanwhile.

64 clients write at once (creates, then updates of the same items): every write is
acknowledged, every acknowledged write has exactly one event, positions only grow, per-item
order holds, and a subscriber that was live throughout, or resumes from any position,
sees each event once and in position order.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tornado.httpclient import AsyncHTTPClient

from tests.service.clients import connect, frame, subscribe
from tests.service.harness import LiveService

WRITERS = 64


async def concurrently(live: LiveService, requests: list[tuple[str, str, Any]]) -> list[Any]:
    """Send every request at once, over as many connections as there are requests."""
    client = AsyncHTTPClient(force_instance=True, max_clients=len(requests))
    headers = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}
    try:
        return await asyncio.gather(
            *(
                client.fetch(
                    live.base_url + path,
                    method=method,
                    body=json.dumps(body),
                    headers=headers,
                    raise_error=False,
                    request_timeout=60,
                )
                for method, path, body in requests
            )
        )
    finally:
        client.close()


async def events_until(connection: Any, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        message = await frame(connection, timeout=20)
        if message["type"] == "event":
            events.append(message)
    return events


async def test_64_concurrent_writers_all_succeed_with_exact_events(service: LiveService) -> None:
    watcher = await connect(service, token=service.token)
    start = (await subscribe(watcher))["seq"]

    created = await concurrently(
        service,
        [("POST", "/api/v1/items", {"name": f"w{n}"}) for n in range(WRITERS)],
    )
    assert [r.code for r in created] == [201] * WRITERS, [r.body[:200] for r in created]
    ids = [json.loads(r.body)["id"] for r in created]
    updated = await concurrently(
        service,
        [("PUT", f"/api/v1/items/{item_id}", {"name": "u"}) for item_id in ids]
        + [("POST", "/api/v1/items", {"name": f"x{n}"}) for n in range(WRITERS)],
    )
    assert [r.code for r in updated] == [200] * WRITERS + [201] * WRITERS, [
        r.body[:200] for r in updated if r.code >= 500
    ]
    written = 3 * WRITERS

    store = service.services.stores["items"]
    stored = [e async for e in store.events.since(start) if e["type"].startswith("item.")]
    assert len(stored) == written
    positions = [e["_id"] for e in stored]
    assert positions == sorted(set(positions))
    for item_id in ids:
        kinds = [e["type"] for e in stored if str(e["item_id"]) == item_id]
        assert kinds == ["item.created", "item.updated"], "per-item order"

    live = await events_until(watcher, written)
    assert [e["seq"] for e in live] == positions, "the live subscriber saw every event once"
    watcher.close()

    middle = positions[written // 2]
    resumed = await connect(service, token=service.token)
    await resumed.write_message(json.dumps({"type": "subscribe", "resume_from": middle}))
    replayed = await events_until(resumed, len([p for p in positions if p > middle]))
    assert [e["seq"] for e in replayed] == [p for p in positions if p > middle]
    assert (await frame(resumed))["type"] == "subscribed"
    resumed.close()


async def test_concurrent_writes_to_one_item_keep_its_order(service: LiveService) -> None:
    """Same-item writers do conflict (on the item itself): they are retried with backoff,
    all succeed, and their events follow the versions. A conflicting attempt fails at its
    item write, before it allocates, so it leaves no gap for the feed to wait on."""
    created = await service.fetch("/api/v1/items", method="POST", json_body={"name": "hot"})
    item_id = json.loads(created.body)["id"]
    watcher = await connect(service, token=service.token)
    start = (await subscribe(watcher))["seq"]
    writers = 16
    loop = asyncio.get_running_loop()
    began = loop.time()
    updated = await concurrently(
        service, [("PUT", f"/api/v1/items/{item_id}", {"name": f"v{n}"}) for n in range(writers)]
    )
    assert [r.code for r in updated] == [200] * writers, [r.body[:200] for r in updated]
    live: list[dict[str, Any]] = []
    while len(live) < writers:
        # The creation may still be on its way to the feed when the watcher subscribes.
        live += [e for e in await events_until(watcher, 1) if e["event"] == "item.updated"]
    took = loop.time() - began
    assert took < service.services.events.gap_timeout, f"the feed stalled {took:.1f} s"
    assert [e["item"]["version"] for e in live] == list(range(2, writers + 2))
    assert [e["seq"] for e in live] == sorted(e["seq"] for e in live)
    versions = sorted(json.loads(r.body)["version"] for r in updated)
    assert versions == list(range(2, writers + 2))
    entries = [e async for e in service.services.events.since(start)]
    assert [e["_id"] for e in entries] == list(range(start + 1, start + len(entries) + 1))
    watcher.close()
