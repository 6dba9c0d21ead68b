"""Following the ``events`` collection so every replica sees every replica's writes.

The follower publishes the log in position order and never past a gap: a missing position
may belong to a transaction that has not committed yet (see ``store.events``). It waits for
that position up to the log's ``gap_timeout``, then abandons it (a fence: it is an event or
a tombstone from then on) and moves on. So the hub's position is always a resolved frontier,
and "everything after the position I resumed from" is a complete read. Reads are triggered by
a change stream when the server offers one (low latency) and, in any case, by a poll every
``poll_interval`` seconds (the fallback for servers without change streams, the safety net if
a stream dies, and the clock that ends a gap's wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from gale_service.db import ChangeStreamEnded, DatabaseUnavailable, MongoGateway
from gale_service.live.hub import Hub
from gale_service.store.events import EVENTS, EventLog

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0
#: Server-side wait per change-stream getMore; must stay below the client's timeoutMS.
AWAIT_MS = 1000
STOP_TIMEOUT_SECONDS = 5.0
#: How often the resolved frontier is recorded (so a restart need not walk the log).
RECORD_SECONDS = 1.0


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
        #: The first missing position and when it was first seen missing.
        self._gap: tuple[int, float] | None = None
        self._recorded_at = 0.0
        self._recorded = 0

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
                await self._record()
            except DatabaseUnavailable as error:
                if self.stopping():
                    return
                log.warning("live feed cannot read events", extra={"error": str(error)})
                await asyncio.sleep(RETRY_SECONDS)
            except Exception:
                # One entry the feed cannot handle must not end the feed for everyone.
                log.exception("live feed failed to publish; retrying")
                await asyncio.sleep(RETRY_SECONDS)

    async def catch_up(self) -> None:
        """Publish every entry after the hub's position, in order, up to the first gap; a
        gap that outlived the log's ``gap_timeout`` is abandoned and passed."""
        while True:
            position = self._hub.position or 0
            batch = [event async for event in self._events.since(position)]
            expected = position + 1
            for entry in batch:
                if int(entry["_id"]) != expected:
                    break
                self._hub.publish(entry)
                expected += 1
            else:
                self._gap = None
                if batch:
                    continue
                return
            now = time.monotonic()
            if self._gap is None or self._gap[0] != expected:
                self._gap = (expected, now)
            if now - self._gap[1] < self._events.gap_timeout:
                return  # the next change or poll looks again
            log.warning(
                "abandoning an event position that never committed", extra={"seq": expected}
            )
            await self._events.abandon(expected)
            self._gap = None

    async def _record(self) -> None:
        position = self._hub.position or 0
        now = time.monotonic()
        if position > self._recorded and now - self._recorded_at >= RECORD_SECONDS:
            await self._events.record_frontier(position)
            self._recorded, self._recorded_at = position, now

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
            except ChangeStreamEnded as error:
                if error.expired:
                    # The client's timeoutMS bounds a stream's lifetime: reopen it, and read
                    # once in case a change fell between the two streams.
                    self.wake()
                    continue
                if not error.unsupported:
                    log.warning("change stream failed", extra={"error": str(error)[:200]})
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                log.info(
                    "no change stream; live feed polls",
                    extra={"error": str(error)[:200], "poll_seconds": self._poll_interval},
                )
                return
            except DatabaseUnavailable as error:
                if self.stopping():
                    return
                log.warning("change stream interrupted", extra={"error": str(error)[:200]})
                await asyncio.sleep(RETRY_SECONDS)
