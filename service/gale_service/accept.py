"""Accepting connections without spinning when the process runs out of file descriptors.

Tornado's accept handler re-raises ``EMFILE`` (and its relatives) from ``accept()``. The
pending connection stays in the kernel's queue, so the listening socket stays readable: the
event loop calls the handler again at once, it fails again, and the process burns a core and
writes an error log as fast as it can (measured: ~99 % CPU and ~380 MB of log in 47 s) while
every other task, ``/livez`` included, starves.

:class:`AcceptLoop` pauses instead: it stops watching the socket, retries after a delay that
doubles up to :data:`MAX_PAUSE_SECONDS` (reset by the next successful accept), and logs at most
once per :data:`LOG_INTERVAL_SECONDS` with the number of pauses since the previous line. The
queued clients wait in the kernel's backlog until descriptors are free again.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)
#: What ``accept()`` raises when the process, the system or the kernel's buffers are full.
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
FIRST_PAUSE_SECONDS = 0.05
MAX_PAUSE_SECONDS = 1.0
LOG_INTERVAL_SECONDS = 10.0
#: Connections accepted per readiness event, so one busy listener cannot starve the loop.
BATCH = 128


class AcceptLoop:
    def __init__(self, sock: socket.socket, callback: Callable[[socket.socket, Any], None]) -> None:
        self._sock = sock
        self._callback = callback
        self._io_loop = IOLoop.current()
        self._watching = False
        self._resume_handle: object | None = None
        self._pause = FIRST_PAUSE_SECONDS
        self._pauses_unlogged = 0
        self._last_logged = float("-inf")
        self.closed = False
        self._watch()

    def _watch(self) -> None:
        self._io_loop.add_handler(self._sock, self._on_readable, IOLoop.READ)
        self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self._io_loop.remove_handler(self._sock)
            self._watching = False

    def _on_readable(self, _fd: Any, _events: int) -> None:
        self.accept_pending(BATCH)

    def accept_pending(self, limit: int | None = None) -> None:
        """Accept up to ``limit`` queued connections (all of them when None)."""
        accepted = 0
        while limit is None or accepted < limit:
            if self.closed or self._resume_handle is not None:
                return
            try:
                connection, address = self._sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as error:
                if error.errno not in RESOURCE_ERRNOS:
                    raise
                self._back_off(error)
                return
            self._pause = FIRST_PAUSE_SECONDS
            accepted += 1
            self._callback(connection, address)

    def _back_off(self, error: OSError) -> None:
        self._unwatch()
        self._pauses_unlogged += 1
        now = time.monotonic()
        if now - self._last_logged >= LOG_INTERVAL_SECONDS:
            log.warning(
                "accept paused: out of resources for new connections",
                extra={
                    "error": error.strerror,
                    "pause_seconds": self._pause,
                    "pauses": self._pauses_unlogged,
                },
            )
            self._last_logged = now
            self._pauses_unlogged = 0
        self._resume_handle = self._io_loop.call_later(self._pause, self._resume)
        self._pause = min(self._pause * 2, MAX_PAUSE_SECONDS)

    def _resume(self) -> None:
        self._resume_handle = None
        if not self.closed:
            self._watch()
            self.accept_pending(BATCH)

    def close(self) -> None:
        """Stop accepting (the caller closes the socket)."""
        self.closed = True
        self._unwatch()
        if self._resume_handle is not None:
            self._io_loop.remove_timeout(self._resume_handle)
            self._resume_handle = None
