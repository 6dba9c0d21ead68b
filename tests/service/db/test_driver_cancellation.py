"""Cancelling PyMongo calls while the database is down never leaks the client's locks.

On Python 3.11 PyMongo's condition wait (``asyncio.wait_for``) could release a lock it did not
hold when its caller was cancelled, after which the client, and the event loop's own shutdown,
waited forever: the hang once seen in ``test_outage.py``'s teardown. See
``gale_service.db.cancel_safety``.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.ports import free_port

STORM_SECONDS = 8


def test_cancelled_server_selection_leaves_the_client_closable() -> None:
    # Nothing listens on the port: the database is down, every call waits in server selection.
    result = subprocess.run(
        [sys.executable, "-m", "tests.service.cancel_storm", str(free_port()), str(STORM_SECONDS)],
        capture_output=True,
        text=True,
        timeout=STORM_SECONDS + 30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["runtime_errors"] == [], "a cancelled wait released a lock it did not hold"
    assert report["stuck_tasks"] == [], "tasks left waiting for a lock nobody will release"
    assert report["closed"], "close() must finish once every caller has given up"
