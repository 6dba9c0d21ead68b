"""Event-loop lag: how late a timer fires. Blocking code on the loop shows here first.

A sleep of ``interval`` seconds that takes ``interval + x`` means every callback waited ``x``;
a stall of length ``s`` shows as at least ``s - interval``, so the interval is short (ten
wake-ups a second cost nothing measurable). The gauge reports the worst lag of the last
``window`` checks (15 s by default), so a stall between two scrapes is still visible at the
next scrape instead of being overwritten by the calm checks after it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from gale_service.telemetry import metrics

INTERVAL_SECONDS = 0.1
WINDOW_CHECKS = 150


class LoopLagMonitor:
    def __init__(self, *, interval: float = INTERVAL_SECONDS, window: int = WINDOW_CHECKS) -> None:
        self.interval = interval
        self._recent: deque[float] = deque(maxlen=window)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _watch(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            self._recent.append(max(0.0, time.monotonic() - before - self.interval))
            metrics.EVENT_LOOP_LAG.set(max(self._recent))
