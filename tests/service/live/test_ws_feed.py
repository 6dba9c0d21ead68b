"""The live feed under stress: other replicas' writes, slow consumers, polling, shutdown."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from bson import ObjectId
from gale_service.live.hub import SLOW_SEND_SECONDS

from tests.mongo import SecantusServer
from tests.service.clients import connect, frame, subscribe
from tests.service.harness import live_service
from tests.service.raw_websocket import StalledClient


def synthetic_event(seq: int, *, size: int) -> dict[str, object]:
    """An outbox event as the follower reads it, with a large item."""
    now = datetime.now(UTC)
    item = {
        "_id": ObjectId(),
        "name": f"bulk {seq}",
        "description": "x" * size,
        "tags": [],
        "owner": "admin",
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    return {"_id": seq, "type": "item.created", "owner": "admin", "tags": [], "item": item}


async def test_every_replica_sees_every_replicas_writes(mongo_server: SecantusServer) -> None:
    async with live_service(mongo_server.uri) as first:
        shared = first.services.settings.mongodb_database
        async with live_service(mongo_server.uri, mongodb_database=shared) as second:
            connection = await connect(first, token=first.token)
            await subscribe(connection)
            created = await second.fetch(
                "/api/v1/items", method="POST", json_body={"name": "written elsewhere"}
            )
            event = await frame(connection)
            assert event["item"]["id"] == json.loads(created.body)["id"]
            connection.close()


async def test_polling_publishes_in_sequence_without_a_change_stream(
    mongo_server: SecantusServer,
) -> None:
    """``catch_up`` is the whole polling path: read after the position, publish in order."""
    async with live_service(mongo_server.uri, live_poll_interval_seconds=60) as live:
        feed = live.services.feed
        await feed.follower.stop()  # neither change stream nor timer from here on
        connection = await connect(live, token=live.token)
        await subscribe(connection)
        for name in ("one", "two", "three"):
            assert (
                await live.fetch("/api/v1/items", method="POST", json_body={"name": name})
            ).code == 201
        await feed.follower.catch_up()
        events = [await frame(connection) for _ in range(3)]
        assert [e["item"]["name"] for e in events] == ["one", "two", "three"]
        assert feed.hub.position == events[-1]["seq"]
        connection.close()


async def test_a_slow_consumer_is_closed_with_1013_and_others_keep_up(
    mongo_server: SecantusServer,
) -> None:
    async with live_service(mongo_server.uri, ws_send_queue_size=8) as live:
        hub = live.services.feed.hub
        fast = await connect(live, token=live.token)
        start = (await subscribe(fast))["seq"]
        port = int(live.base_url.rsplit(":", 1)[1])
        slow = await StalledClient.open("127.0.0.1", port, token=live.token)
        await slow.send({"type": "subscribe"})
        await asyncio.sleep(0.2)  # the subscription is live; from here the client stops reading

        # A reading client gets every event before the next is published; the stalled one
        # fills its kernel buffers, then its bounded queue, and once its socket has accepted
        # nothing for SLOW_SEND_SECONDS it is dropped.
        published = 0
        deadline = asyncio.get_running_loop().time() + SLOW_SEND_SECONDS + 20
        while len(hub.subscriptions) == 2:
            assert asyncio.get_running_loop().time() < deadline, "the stalled client stayed"
            published += 1
            hub.publish(synthetic_event(start + published, size=9_000))
            event = await frame(fast)
            assert event["seq"] == start + published
            await asyncio.sleep(0.005)
        assert len(hub.subscriptions) == 1
        for n in range(published + 1, published + 4):  # the fast client is unaffected
            hub.publish(synthetic_event(start + n, size=9_000))
            assert (await frame(fast))["seq"] == start + n

        code, texts = await slow.read_until_close(timeout=10)
        assert code == 1013
        assert 0 < len(texts) < published
        slow.close()
        fast.close()


async def test_draining_closes_sockets_with_1001(mongo_server: SecantusServer) -> None:
    async with live_service(mongo_server.uri) as live:
        connection = await connect(live, token=live.token)
        await subscribe(connection)
    assert await asyncio.wait_for(connection.read_message(), 5) is None
    assert connection.close_code == 1001
    assert connection.close_reason == "server shutting down"


async def test_the_change_stream_outlives_the_client_timeout(mongo_server: SecantusServer) -> None:
    """timeoutMS bounds a stream's life; the follower reopens it, so changes still arrive
    promptly long after that (polling is switched off here: a 60 s interval)."""
    async with live_service(
        mongo_server.uri, mongodb_timeout_ms=400, live_poll_interval_seconds=60
    ) as live:
        connection = await connect(live, token=live.token)
        await subscribe(connection)
        await asyncio.sleep(1.0)  # the first stream has expired by now
        created = await live.fetch("/api/v1/items", method="POST", json_body={"name": "late"})
        assert created.code == 201
        event = await frame(connection, timeout=3)
        assert event["item"]["name"] == "late"
        connection.close()
