"""kill -9 of the database mid-load loses no acknowledged write: every item answered 201
is there after a restart on the same data, and so is its event."""

from __future__ import annotations

import asyncio
import json

from pymongo.errors import PyMongoError
from tornado.httpclient import AsyncHTTPClient

from tests.mongo import SecantusServer
from tests.service.harness import FAST_FAILING, LiveService, live_service

WRITERS = 16
KILLS = 2


async def write_until(live: LiveService, stop: asyncio.Event, acknowledged: list[str]) -> None:
    client = AsyncHTTPClient(force_instance=True, max_clients=1)
    headers = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}
    try:
        n = 0
        while not stop.is_set():
            n += 1
            response = await client.fetch(
                live.base_url + "/api/v1/items",
                method="POST",
                body=json.dumps({"name": f"n{n}"}),
                headers=headers,
                raise_error=False,
                request_timeout=30,
            )
            if response.code == 201:
                acknowledged.append(json.loads(response.body)["id"])
            else:
                assert response.code == 503, response.body
                await asyncio.sleep(0.02)
    finally:
        client.close()


async def test_acknowledged_writes_survive_kill_9(own_server: SecantusServer, driver: str) -> None:
    async with live_service(
        own_server.uri,
        driver=driver,
        **FAST_FAILING,
    ) as live:
        acknowledged: list[str] = []
        for _ in range(KILLS):
            stop = asyncio.Event()
            writers = [
                asyncio.create_task(write_until(live, stop, acknowledged)) for _ in range(WRITERS)
            ]
            before = len(acknowledged)
            while len(acknowledged) < before + 100:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(own_server.kill)  # mid-load: requests are in flight
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*writers)
            await asyncio.to_thread(own_server.start)

        gateway = live.services.gateway
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            try:
                stored = {str(d["_id"]) async for d in gateway.collection("items").find({})}
                break
            except PyMongoError:  # the driver reconnecting after the restart
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.2)
        events = {
            str(e["item_id"])
            async for e in gateway.collection("events").find({"type": "item.created"})
        }
        lost = [item_id for item_id in acknowledged if item_id not in stored]
        assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged items lost"
        without_event = [item_id for item_id in acknowledged if item_id not in events]
        assert not without_event, f"{len(without_event)} acknowledged items lost their event"
