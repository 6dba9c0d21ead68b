"""A burst far larger than the send queue reaches every subscriber that reads, in order."""

from __future__ import annotations

import asyncio
import json

from gale_service.bulk import MAX_IMPORT_LINES

from tests.mongo import SecantusServer
from tests.service.clients import connect, subscribe
from tests.service.harness import live_service

SUBSCRIBERS = 200


async def test_a_1000_line_import_reaches_200_subscribers_in_order(
    mongo_server: SecantusServer,
) -> None:
    async with live_service(mongo_server.uri, ws_send_queue_size=64) as live:
        connections = [await connect(live, token=live.token) for _ in range(SUBSCRIBERS)]
        starts = {(await subscribe(c))["seq"] for c in connections}
        assert len(starts) == 1
        body = "".join(json.dumps({"name": f"bulk {n}"}) + "\n" for n in range(MAX_IMPORT_LINES))
        response = await live.fetch(
            "/api/v1/import/items",
            method="POST",
            body=body,
            headers={"Content-Type": "application/x-ndjson"},
            request_timeout=120,
        )
        assert response.code == 201, response.body
        ids = json.loads(response.body)["ids"]

        async def receive(connection: object) -> tuple[list[int], list[str], str | None]:
            positions: list[int] = []
            names: list[str] = []
            while len(positions) < MAX_IMPORT_LINES:
                message = await connection.read_message()  # type: ignore[attr-defined]
                if message is None:
                    return positions, names, connection.close_reason  # type: ignore[attr-defined]
                decoded = json.loads(message)
                if decoded["type"] == "event":
                    positions.append(decoded["seq"])
                    names.append(decoded["item"]["id"])
            return positions, names, None

        results = await asyncio.wait_for(
            asyncio.gather(*(receive(c) for c in connections)), timeout=240
        )
        closed = [code for _, _, code in results if code is not None]
        assert closed == [], f"{len(closed)} subscribers were closed ({set(closed)})"
        start = starts.pop()
        expected = list(range(start + 1, start + MAX_IMPORT_LINES + 1))
        for positions, names, _ in results:
            assert positions == expected
            assert names == ids
        for connection in connections:
            connection.close()
