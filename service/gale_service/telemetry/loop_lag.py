"""Event-loop lag: how late a timer fires. Blocking code on the loop shows here first.

A sleep of ``interval`` seconds that takes ``interval + x`` means every callback waited ``x``;
sampling twice a second costs nothing measurable and catches stalls of tens of milliseconds
(a stall shorter than the interval is still seen if the check lands in it).
"""

from __future__ import annotations

import asyncio
import time

from gale_service.telemetry import metrics

INTERVAL_SECONDS = 0.5


class LoopLagMonitor:
    def __init__(self, *, interval: float = INTERVAL_SECONDS) -> None:
        self.interval = interval
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
            metrics.EVENT_LOOP_LAG.set(max(0.0, time.monotonic() - before - self.interval))
