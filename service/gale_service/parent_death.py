"""Child processes that cannot outlive the service: Linux's ``PR_SET_PDEATHSIG``.

A service killed with SIGKILL (a closed terminal, the OOM killer) runs no clean-up, so its
children would live on: the embedded database holding its WiredTiger lock, CPU workers
holding memory. With the parent-death signal set, the kernel sends that signal to the child
the moment its parent goes away.

The kernel ties it to the parent *thread* that forked the child, not the process: a child
started from a short-lived thread would be signalled when that thread ends. Gale starts these
children from the main thread: the embedded database before serving, the CPU pool's workers
from the event loop (``ProcessPoolExecutor`` spawns on ``submit``); it lives as long as they do.
Elsewhere than Linux this is a no-op, and the pid file (embedded database) or the pool's
closed pipe (CPU workers) ends them instead.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
#: Loaded once, at import in the parent: a child between fork and exec should only call it.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent(signum: int = signal.SIGTERM, *, parent: int | None = None) -> None:
    """In a freshly started child: receive ``signum`` when the parent dies.

    ``parent`` closes the race where the parent died before the call: then exit at once.
    """
    if _LIBC is None:
        return
    if _LIBC.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if parent is not None and os.getppid() != parent:
        os._exit(1)
