"""The live WebSocket: who may connect, what they may send, and what they receive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.mongo import SecantusServer
from tests.service.clients import Browser, connect, frame, refused, send, subscribe
from tests.service.harness import LiveService, live_service


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri, ws_max_invalid_messages=3) as service:
        yield service


async def create(live: LiveService, name: str, *, owner: str = "alice", **fields: object) -> str:
    response = await live.fetch(
        "/api/v1/items",
        method="POST",
        json_body={"name": name, **fields},
        headers={"Authorization": f"Bearer {live.token_for(owner)}"},
    )
    assert response.code == 201
    item_id: str = json.loads(response.body)["id"]
    return item_id


async def test_anonymous_and_forged_upgrades_are_refused(live: LiveService) -> None:
    assert (await refused(live)).code == 401
    assert (await refused(live, token="not.a.jwt")).code == 401


async def test_foreign_origins_are_refused(live: LiveService) -> None:
    error = await refused(live, token=live.token, headers={"Origin": "http://evil.example"})
    assert error.code == 403
    same = await connect(live, token=live.token, headers={"Origin": live.base_url})
    same.close()


async def test_a_session_cookie_authenticates_a_same_origin_socket(live: LiveService) -> None:
    browser = Browser(live)
    await browser.login()
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    connection = await connect(live, headers={"Cookie": cookie, "Origin": live.base_url})
    assert (await subscribe(connection))["type"] == "subscribed"
    connection.close()


async def test_invalid_messages_get_reasons_then_1008(live: LiveService) -> None:
    connection = await connect(live, token=live.token)
    await connection.write_message("not json")
    assert await frame(connection) == {"type": "error", "reason": "message is not valid JSON"}
    await send(connection, {"type": "subscribe", "tags": "red"})
    reason = (await frame(connection))["reason"]
    assert reason.startswith("tags: 'red' is not of type 'array'")
    await send(connection, {"type": "shout"})  # the third strike closes the socket
    assert await asyncio.wait_for(connection.read_message(), 5) is None
    assert connection.close_code == 1008
    assert connection.close_reason == "too many invalid messages"


async def test_oversized_messages_close_the_socket(live: LiveService) -> None:
    connection = await connect(live, token=live.token)
    await connection.write_message(json.dumps({"type": "ping", "pad": "x" * 20_000}))
    assert await asyncio.wait_for(connection.read_message(), 5) is None
    assert connection.close_code == 1009


async def test_ping_is_answered(live: LiveService) -> None:
    connection = await connect(live, token=live.token)
    await send(connection, {"type": "ping"})
    assert await frame(connection) == {"type": "pong"}
    connection.close()


async def test_two_clients_both_receive_a_broadcast(live: LiveService) -> None:
    first = await connect(live, token=live.token)
    second = await connect(live, token=live.token_for("alice"))
    await subscribe(first)
    await subscribe(second)
    item_id = await create(live, "shared news", tags=["news"])
    received = [await frame(first), await frame(second)]
    for event in received:
        assert event["type"] == "event"
        assert event["event"] == "item.created"
        assert event["item"]["id"] == item_id
        assert event["item"]["name"] == "shared news"
    assert received[0]["seq"] == received[1]["seq"]
    first.close()
    second.close()


async def test_subscribers_only_see_what_they_may_see(live: LiveService) -> None:
    bob = await connect(live, token=live.token_for("bob"))
    await subscribe(bob)
    await create(live, "alice's secret", owner="alice")
    bobs = await create(live, "bob's own", owner="bob")
    event = await frame(bob)
    assert event["item"]["id"] == bobs
    bob.close()


async def test_tag_subscriptions_filter_events(live: LiveService) -> None:
    connection = await connect(live, token=live.token)
    await subscribe(connection, tags=["red", "green"])
    await create(live, "blue one", tags=["blue"])
    red = await create(live, "red one", tags=["red", "blue"])
    event = await frame(connection)
    assert event["item"]["id"] == red
    connection.close()


async def test_updates_and_deletes_are_broadcast(live: LiveService) -> None:
    connection = await connect(live, token=live.token)
    await subscribe(connection)
    item_id = await create(live, "draft")
    path = f"/api/v1/items/{item_id}"
    assert (await live.fetch(path, method="PUT", json_body={"name": "final"})).code == 200
    assert (await live.fetch(path, method="DELETE")).code == 204
    events = [await frame(connection) for _ in range(3)]
    assert [e["event"] for e in events] == ["item.created", "item.updated", "item.deleted"]
    assert events[1]["item"]["name"] == "final"
    assert [e["seq"] for e in events] == list(range(events[0]["seq"], events[0]["seq"] + 3))
    connection.close()


async def test_reconnect_and_resume_misses_nothing(live: LiveService) -> None:
    connection = await connect(live, token=live.token)
    start = (await subscribe(connection))["seq"]
    await create(live, "before the drop")
    last = (await frame(connection))["seq"]
    connection.close()

    missed = [await create(live, f"while away {n}") for n in range(3)]

    again = await connect(live, token=live.token)
    await send(again, {"type": "subscribe", "resume_from": last})
    replayed = [await frame(again) for _ in range(3)]
    assert [e["item"]["id"] for e in replayed] == missed
    assert [e["seq"] for e in replayed] == [last + 1, last + 2, last + 3]
    subscribed = await frame(again)
    assert subscribed == {"type": "subscribed", "seq": last + 3, "tags": None}
    after = await create(live, "live again")
    event = await frame(again)
    assert (event["item"]["id"], event["seq"]) == (after, last + 4)
    assert last == start + 1
    again.close()


async def test_a_resume_token_ahead_of_the_feed_is_reported(live: LiveService) -> None:
    connection = await connect(live, token=live.token)
    await send(connection, {"type": "subscribe", "resume_from": 10_000})
    assert (await frame(connection))["reason"].startswith("resume_from 10000 is ahead")
    assert (await frame(connection))["type"] == "subscribed"
    connection.close()


async def test_changing_the_filter_keeps_the_position(live: LiveService) -> None:
    connection = await connect(live, token=live.token)
    await subscribe(connection)
    await create(live, "first", tags=["red"])
    first = await frame(connection)
    await create(live, "meanwhile", tags=["blue"])  # may be queued or replayed: either way once
    narrowed = await subscribe(connection, tags=["blue"])
    assert narrowed["tags"] == ["blue"]
    await create(live, "red again", tags=["red"])
    blue = await create(live, "blue again", tags=["blue"])
    seen = [await frame(connection)]
    while seen[-1]["item"]["id"] != blue:
        seen.append(await frame(connection))
    # "meanwhile" is the one event that may come either side of the ``subscribed`` frame.
    assert [e["item"]["name"] for e in seen] in (["blue again"], ["meanwhile", "blue again"])
    assert seen[-1]["seq"] == first["seq"] + 3
    connection.close()
