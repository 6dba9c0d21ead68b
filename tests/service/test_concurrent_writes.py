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

    store = service.services.store
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
