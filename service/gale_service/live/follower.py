"""Following the ``events`` collection so every replica sees every replica's writes.

The outbox's sequence numbers are gap-free in commit order, so "everything after the last
sequence I published" is a complete read. Reads are triggered by a change stream when the
server offers one (low latency) and, in any case, by a poll every ``poll_interval`` seconds
(the fallback for servers without change streams, and the safety net if a stream dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pymongo.errors import OperationFailure, PyMongoError

from gale_service.db import DatabaseUnavailable, MongoGateway
from gale_service.live.hub import Hub
from gale_service.store.events import EVENTS, EventLog

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0
#: Server-side wait per change-stream getMore; must stay below the client's timeoutMS.
AWAIT_MS = 1000
#: "$changeStream is only supported on replica sets", CommandNotSupported, and friends.
NO_CHANGE_STREAMS = frozenset({40573, 115, 303})
STOP_TIMEOUT_SECONDS = 5.0


class EventFollower:
    def __init__(
        self, events: EventLog, gateway: MongoGateway, hub: Hub, *, poll_interval: float
    ) -> None:
        self._events = events
        self._gateway = gateway
        self._hub = hub
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        self._announced = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow()), loop.create_task(self._watch())]

    async def stop(self) -> None:
        """Stop both loops. The flag matters as much as the cancel: a driver may turn a
        cancellation that lands mid-read into a network error, which the loops would
        otherwise catch and retry."""
        self._stopped = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_SECONDS)
        self._tasks = []

    def stopping(self) -> bool:
        return self._stopped

    def wake(self) -> None:
        """Read now rather than at the next poll (a change arrived, or a test wrote)."""
        self._wake.set()

    async def _follow(self) -> None:
        while self._hub.position is None and not self._stopped:
            try:
                self._hub.start_at(await self._events.last_sequence())
            except DatabaseUnavailable:
                await asyncio.sleep(RETRY_SECONDS)
        while not self._stopped:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can turn a cancel that races
            # its timeout into TimeoutError, which would swallow stop()'s cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.catch_up()
            except DatabaseUnavailable as error:
                if self.stopping():
                    return
                log.warning("live feed cannot read events", extra={"error": str(error)})
                await asyncio.sleep(RETRY_SECONDS)

    async def catch_up(self) -> None:
        """Publish every event after the hub's position, in order."""
        while True:
            position = self._hub.position or 0
            batch = [event async for event in self._events.since(position)]
            for event in batch:
                self._hub.publish(event)
            if not batch:
                return

    async def _watch(self) -> None:
        """Wake the follower on each insert into ``events``; give up quietly if unsupported."""
        pipeline = [{"$match": {"operationType": "insert"}}]
        while not self._stopped:
            try:
                async with self._gateway.watch(
                    EVENTS, pipeline, max_await_time_ms=AWAIT_MS
                ) as stream:
                    if not self._announced:
                        log.info("live feed following a change stream")
                        self._announced = True
                    async for _change in stream:
                        self.wake()
            except OperationFailure as error:
                if error.timeout:
                    # The client's timeoutMS bounds a stream's lifetime: reopen it, and read
                    # once in case a change fell between the two streams.
                    self.wake()
                    continue
                if error.code not in NO_CHANGE_STREAMS:
                    log.warning("change stream failed", extra={"error": str(error)[:200]})
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                log.info(
                    "no change stream; live feed polls",
                    extra={"error": str(error)[:200], "poll_seconds": self._poll_interval},
                )
                return
            except (PyMongoError, DatabaseUnavailable) as error:
                if self.stopping():
                    return
                log.warning("change stream interrupted", extra={"error": str(error)[:200]})
                await asyncio.sleep(RETRY_SECONDS)
