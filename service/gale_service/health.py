"""What the health endpoints report: started, draining, and how fresh the last DB ping is.

A background task pings MongoDB a few times a second, so ``/readyz`` answers from memory
and a flood of probes never becomes a flood of database round-trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from gale_service.db import DatabaseUnavailable, MongoGateway

log = logging.getLogger(__name__)
PING_INTERVAL_SECONDS = 0.25
PING_FRESH_SECONDS = 1.0


@dataclass
class Health:
    """Mutable process state, owned by the lifecycle and read by the health handlers."""

    started: bool = False
    draining: bool = False
    last_db_ok: float | None = None
    last_db_error: str | None = "not pinged yet"
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _stopping: bool = field(default=False, repr=False)

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason): ``reason`` is why not, or ``"ok"``."""
        if not self.started:
            return False, "starting: migrations not finished"
        if self.draining:
            return False, "draining: shutting down"
        if self.last_db_ok is None or time.monotonic() - self.last_db_ok > PING_FRESH_SECONDS:
            return False, f"database: {self.last_db_error or 'no recent successful ping'}"
        return True, "ok"

    def start_monitor(self, gateway: MongoGateway) -> None:
        self._task = asyncio.get_running_loop().create_task(self._monitor(gateway))

    async def stop_monitor(self) -> None:
        """Stop pinging. The flag matters as much as the cancel: a driver may turn a
        cancellation that lands mid-command into a network error, which the loop would
        otherwise record and go on from."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_FRESH_SECONDS * 2):
                    await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _monitor(self, gateway: MongoGateway) -> None:
        while not self._stopping:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can turn a cancel that races
                # its timeout into TimeoutError, swallowing stop_monitor()'s cancellation.
                async with asyncio.timeout(PING_FRESH_SECONDS):
                    await gateway.ping()
            except (DatabaseUnavailable, TimeoutError) as error:
                # A ping cut by our own timeout carries no text: the driver's monitor knows
                # why (connection refused, say), and that is what the warning should say.
                reason = str(error) or gateway.unavailable_reason()
                if self.last_db_error is None:
                    log.warning("database ping failing", extra={"error": reason})
                self.last_db_error = reason
            else:
                if self.last_db_error is not None and self.last_db_ok is not None:
                    log.info("database reachable again")
                self.last_db_ok = time.monotonic()
                self.last_db_error = None
            await asyncio.sleep(PING_INTERVAL_SECONDS)
