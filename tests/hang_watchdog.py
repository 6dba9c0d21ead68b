"""The suite's last line of defence against a hang: no test outlives its timeout by much.

pytest-timeout's ``signal`` method fails a test that runs too long by raising from a SIGALRM
handler, which keeps the rest of the suite running. But on an asyncio event loop that
exception lands wherever the main thread happens to be: in ``select()`` it fails the test,
inside a task's step it becomes that task's exception and is lost, and the test hangs on
with no timer left. This watchdog is a thread: when a test (setup, call and teardown) is
still running ``hang_watchdog_grace`` seconds after its pytest-timeout, it prints every
thread's stack and every pending asyncio task, then ends the run with exit code 1 so CI
fails at once instead of waiting for its own limit.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import sys
import threading
from collections.abc import Generator

import pytest

GRACE_HELP = "seconds past a test's pytest-timeout after which the whole run is ended"
EXIT_CODE = 1


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("hang_watchdog_grace", GRACE_HELP, default="30")


def _pending_tasks() -> list[asyncio.Task[object]]:
    """Tasks of any loop: found through the GC because the loop belongs to another thread."""
    return [obj for obj in gc.get_objects() if isinstance(obj, asyncio.Task) and not obj.done()]


def _end_the_run(item: pytest.Item, limit: float) -> None:
    # Output capture holds file descriptor 2: let go of it, or the dump ends in a temp file.
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
    out = sys.stderr
    nodeid = item.nodeid
    out.write(f"\n+++ hang watchdog: {nodeid} still running {limit:g}s after it started\n")
    out.flush()
    faulthandler.dump_traceback(file=out, all_threads=True)
    for task in _pending_tasks():
        out.write(f"\npending {task!r} (cancelling: {task.cancelling()})\n")
        task.print_stack(limit=20, file=out)
    out.write(f"+++ hang watchdog: ending the test run (exit {EXIT_CODE})\n")
    out.flush()
    os._exit(EXIT_CODE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    marker = item.get_closest_marker("timeout")
    marked = (marker.args[:1] or [marker.kwargs.get("timeout")])[0] if marker else None
    timeout = float(marked if marked is not None else item.config.getini("timeout") or 0)
    if timeout <= 0:
        yield
        return
    limit = timeout + float(item.config.getini("hang_watchdog_grace"))
    watchdog = threading.Timer(limit, _end_the_run, args=(item, limit))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
