"""``GALE_WORKERS`` > 1: a parent that forks the workers, replaces one that crashes, and stops
them all on SIGTERM/SIGINT.

Tornado's ``fork_processes`` only waits: a signal would kill the parent at once and leave the
workers (and the dev database) running, and it keeps restarting workers that exit non-zero
even while the service is being stopped. Here the parent:

- puts each worker in a process group of its own, so a terminal's Ctrl-C reaches only the
  parent, which passes it on exactly once (a worker's *second* SIGINT means "stop now");
- on the first SIGTERM/SIGINT closes its copy of the listening sockets at once, then forwards
  the signal: once the workers have closed theirs after draining, the kernel refuses new
  connections instead of queueing them where nobody accepts;
- on a second Ctrl-C (SIGINT) kills the workers and exits at once (a repeated SIGTERM,
  which a supervisor signalling the whole group can deliver, changes nothing);
- gives each worker the parent-death signal, so a SIGKILLed parent takes its workers along.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from types import FrameType

from gale_service.parent_death import die_with_parent

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: Restarts allowed (in total) before the parent gives up: a worker that dies on start-up
#: would otherwise be forked again forever.
MAX_RESTARTS = 100


class _Supervisor:
    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.children: dict[int, int] = {}
        self.stopping: int | None = None
        #: A worker ended badly after the stop signal (it did not drain cleanly).
        self.failed = False
        self.restarts = 0

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping is not None:
            if signum != signal.SIGINT:
                return  # a repeated SIGTERM: the drain it asked for is under way
            log.warning("second stop signal: stopping the workers now", extra={"signal": signum})
            self._send(signal.SIGKILL)
            os._exit(128 + signum)
        self.stopping = signum
        for sock in self.sockets:
            sock.close()
        self._send(signum)

    def _send(self, signum: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def fork(self, index: int) -> int | None:
        """Fork worker ``index``: None in the parent, the index in the worker."""
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            os.setpgid(0, 0)
            die_with_parent(signal.SIGTERM, parent=parent)
            return index
        self.children[pid] = index
        return None

    def wait(self) -> tuple[int, int] | None:
        """The next worker that ended: (index, exit code)."""
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                return None
            index = self.children.pop(pid, None)
            if index is not None:
                return index, os.waitstatus_to_exitcode(status)
        return None


def fork_workers(count: int, *, sockets: list[socket.socket]) -> int:
    """Fork ``count`` workers and return, in each worker, its index (0-based).

    The parent never returns: it supervises until every worker has ended, then raises
    ``SystemExit``: 0 when they stopped cleanly after a signal, 1 otherwise.
    """
    supervisor = _Supervisor(sockets)
    for signum in STOP_SIGNALS:
        signal.signal(signum, supervisor.on_signal)
    for index in range(count):
        if supervisor.fork(index) is not None:
            return index
    while (ended := supervisor.wait()) is not None:
        index, code = ended
        if supervisor.stopping is not None:
            supervisor.failed |= code != 0
            continue
        if code == 0:
            continue
        if supervisor.restarts >= MAX_RESTARTS:
            log.error("workers keep failing; giving up", extra={"restarts": MAX_RESTARTS})
            supervisor.on_signal(signal.SIGTERM, None)
            continue
        supervisor.restarts += 1
        log.warning("worker exited; starting another", extra={"worker": index, "code": code})
        if supervisor.fork(index) is not None:
            return index
    sys.exit(1 if supervisor.failed or supervisor.stopping is None else 0)
