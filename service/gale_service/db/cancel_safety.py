"""Make PyMongo's async condition waits safe to cancel on Python 3.11.

PyMongo's async topology and pool wait on a condition through
``asyncio.wait_for(condition.wait(), timeout)`` (``pymongo.lock._async_cond_wait``). On 3.11,
``wait_for`` runs ``condition.wait()`` as a task of its own. When the caller is cancelled
while that inner task is still re-acquiring the lock (a server-selection wait times out every
0.5 s during an outage, so the window is common), ``wait_for`` gives up on the inner task and
the caller leaves its ``async with lock`` block, releasing a lock it does not hold ("Lock is
not acquired"). The inner task then takes the lock for nobody: it is never released, every
later operation on the client, ``close()`` included, waits for it forever, and so does an
event loop that cancels its tasks at exit (a ``Condition.wait`` task "stuck cancelling").
Python 3.12 rebuilt ``wait_for`` on ``asyncio.timeout``; this does the same for the one
function PyMongo uses, so the wait runs in the caller's task and re-acquires before leaving.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pymongo.asynchronous.pool
import pymongo.asynchronous.topology
import pymongo.lock

#: The modules that imported ``_async_cond_wait`` by name and so need their own binding.
_USERS = (pymongo.lock, pymongo.asynchronous.topology, pymongo.asynchronous.pool)


async def _cond_wait(condition: Any, seconds: float | None) -> bool:
    """``condition.wait()`` for at most ``seconds``: True if notified, False if not."""
    if seconds is None:
        result: bool = await condition.wait()
        return result
    try:
        async with asyncio.timeout(seconds):
            result = await condition.wait()
    except TimeoutError:
        return False
    return result


def install() -> None:
    """Replace PyMongo's condition wait where ``wait_for`` is unsafe (Python < 3.12)."""
    if sys.version_info >= (3, 12):
        return
    for module in _USERS:
        if not hasattr(module, "_async_cond_wait"):
            raise RuntimeError(f"{module.__name__} no longer has _async_cond_wait: recheck")
        module._async_cond_wait = _cond_wait  # type: ignore[attr-defined]
