"""``python -m tests.service.cancel_storm PORT SECONDS``: cancel driver calls while the
database is down, then report whether the client still closes.

Run as its own process because the failure it looks for is a hang that also blocks the event
loop's own shutdown: in-process it would hang the test instead of failing it. Prints one JSON
object: ``runtime_errors`` (PyMongo releasing a lock it does not hold), ``stuck_tasks`` (tasks
still alive once every caller gave up) and ``closed`` (``close()`` finished in time).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time

from gale_service.db import DatabaseUnavailable, connect

CALLERS = 200
CLOSE_TIMEOUT_SECONDS = 5.0


async def storm(port: int, seconds: float) -> dict[str, object]:
    gateway = connect(
        f"mongodb://127.0.0.1:{port}/?retryWrites=false&directConnection=true",
        database="storm",
        server_selection_timeout_ms=5_000,
        connect_timeout_ms=200,
    )
    runtime_errors: list[str] = []
    end = time.monotonic() + seconds

    async def caller() -> None:
        while time.monotonic() < end and not runtime_errors:
            # Cancelled from outside just after a 0.5 s server-selection wait times out:
            # the way a health check's own timeout or a shutdown cancels a request.
            try:
                async with asyncio.timeout(random.uniform(0.495, 0.53)):
                    await gateway.ping()
            except (TimeoutError, DatabaseUnavailable):
                pass
            except RuntimeError as error:
                runtime_errors.append(str(error))

    callers = [asyncio.create_task(caller()) for _ in range(CALLERS)]
    await asyncio.wait(callers, timeout=seconds + 3)
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
            await gateway.close()
        closed = True
    except TimeoutError:
        closed = False
    stuck = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    return {
        "runtime_errors": runtime_errors,
        "stuck_tasks": sorted({task.get_coro().__qualname__ for task in stuck}),
        "closed": closed,
    }


def main() -> None:
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    loop = asyncio.new_event_loop()
    report = loop.run_until_complete(storm(port, seconds))
    print(json.dumps(report), flush=True)
    # A leaked lock leaves tasks no cancellation can finish: exit without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    main()
