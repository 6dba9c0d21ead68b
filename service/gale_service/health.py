"""What the health endpoints report: started, draining, and how fresh the last DB ping is.

A background task pings MongoDB a few times a second, so ``/readyz`` answers from memory
and a flood of probes never becomes a flood of database round-trips.
"""

from __future__ import annotations

import asyncio
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
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _monitor(self, gateway: MongoGateway) -> None:
        while True:
            try:
                await asyncio.wait_for(gateway.ping(), timeout=PING_FRESH_SECONDS)
            except (DatabaseUnavailable, TimeoutError) as error:
                if self.last_db_error is None:
                    log.warning("database ping failing", extra={"error": str(error)})
                self.last_db_error = str(error) or type(error).__name__
            else:
                if self.last_db_error is not None and self.last_db_ok is not None:
                    log.info("database reachable again")
                self.last_db_ok = time.monotonic()
                self.last_db_error = None
            await asyncio.sleep(PING_INTERVAL_SECONDS)
