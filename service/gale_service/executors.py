"""Bounded pools for work that must not run on the event loop.

- ``blocking``: a thread pool for calls that wait or release the GIL (password hashing with
  argon2, file reads such as reloading TLS material).
- ``cpu``: a process pool for pure-Python CPU work that would hold the GIL (parsing and
  validating a bulk NDJSON import).

Both are bounded twice: by their worker count, and by a semaphore on queued calls, so a burst
turns into a quick 503 instead of an unbounded queue of futures in memory.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from gale_service.parent_death import die_with_parent

P = ParamSpec("P")
T = TypeVar("T")


class ExecutorBusy(RuntimeError):
    """More calls are queued than the pool admits; the caller should shed the request."""


class BoundedPool:
    def __init__(self, executor: Executor, *, max_queued: int) -> None:
        self._executor = executor
        self._slots = asyncio.Semaphore(max_queued)
        self._max_queued = max_queued

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._slots.locked():
            raise ExecutorBusy(f"{self._max_queued} calls already queued")
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs)
            )

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _cpu_worker_started(parent: int) -> None:
    """A CPU worker's lifetime belongs to its pool, not to signals.

    Ctrl-C reaches every process in the terminal's process group, the fork parent forwards
    SIGTERM to its group: a worker that died of either would break the pool under a request
    still draining (and print a ``KeyboardInterrupt`` traceback). The pool's shutdown ends
    workers; the parent's death (even SIGKILL) ends them through the parent-death signal.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(signal.SIGKILL, parent=parent)


class Executors:
    """The service's two pools, created once at start-up and shut down with it."""

    def __init__(self, *, blocking_workers: int, cpu_workers: int) -> None:
        self.blocking = BoundedPool(
            ThreadPoolExecutor(max_workers=blocking_workers, thread_name_prefix="gale-blocking"),
            max_queued=blocking_workers * 8,
        )
        # "spawn": forking a process that runs an event loop and driver threads is unsafe.
        context = multiprocessing.get_context("spawn")
        self.cpu = BoundedPool(
            ProcessPoolExecutor(
                max_workers=cpu_workers,
                mp_context=context,
                initializer=_cpu_worker_started,
                initargs=(os.getpid(),),
            ),
            max_queued=cpu_workers * 4,
        )

    def shutdown(self) -> None:
        self.blocking.shutdown()
        self.cpu.shutdown()
