"""An HTTP server that can drain: keep-alive ends, idle connections close, busy ones finish.

Tornado's ``HTTPServer.stop()`` only closes the listening socket: every kept-alive connection
goes on carrying requests, so under load "requests in flight" never reaches zero and a
shutdown waits for its whole deadline, then cuts whatever is running. Draining here means:

- from :meth:`DrainingHTTPServer.begin_drain` on, every response carries ``Connection: close``
  and its connection is closed once the response is written (the request that is already
  running on a connection included, when its headers have not gone out yet);
- :meth:`close_idle` closes the connections that wait for a next request and have received
  none of it, neither in Tornado's buffer nor in the kernel's: a request already on its way is
  served (and answered ``Connection: close``), never dropped.

WebSocket connections are not here: Tornado hands their socket to the WebSocket handler,
and the live feed closes them with 1001.

Listening sockets are served by :class:`AcceptLoop` (no spinning at the descriptor limit), and
:meth:`DrainingHTTPServer.stop` accepts what the kernel has already queued before closing: a
connection still in the backlog when the socket closes is reset, though its client connected
while the server was listening.
"""

from __future__ import annotations

import functools
import select
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tornado import httputil
from tornado.http1connection import HTTP1Connection, HTTP1ServerConnection
from tornado.httpserver import HTTPServer

from gale_service.accept import AcceptLoop


class ReportsHeaders:
    """A message delegate that calls :attr:`on_headers` itself, first thing, when a request's
    headers arrive: the server then needs no wrapping delegate of its own to see the moment
    (one layer fewer on every request; :mod:`.intake`'s delegate is one)."""

    on_headers: Callable[[], None] | None = None


class _Watch(httputil.HTTPMessageDelegate):
    """Marks a connection busy from the moment a request's headers arrive, for a delegate that
    does not report them itself."""

    def __init__(self, inner: httputil.HTTPMessageDelegate, on_headers: Callable[[], None]) -> None:
        self._inner = inner
        self._on_headers = on_headers

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        self._on_headers()
        return self._inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._inner.data_received(chunk)

    def finish(self) -> None:
        self._inner.finish()

    def on_connection_close(self) -> None:
        self._inner.on_connection_close()


class DrainingHTTPServer(HTTPServer):
    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        #: Connections whose current request has arrived (its response may be unfinished).
        self.busy: dict[HTTP1ServerConnection, HTTP1Connection] = {}
        self.draining = False
        self._accepting: list[AcceptLoop] = []

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """As Tornado's, with :class:`AcceptLoop` in place of its accept handler (the same
        two tables ``TCPServer.stop`` reads)."""
        for sock in sockets:
            accepting = AcceptLoop(sock, self._handle_connection)
            self._accepting.append(accepting)
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = accepting.close

    def stop(self) -> None:
        for accepting in self._accepting:
            accepting.accept_pending()
        super().stop()

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        # Tornado asks for a delegate when it starts reading a connection's next request, so
        # the previous one on this connection is complete: it is idle until headers arrive.
        assert isinstance(server_conn, HTTP1ServerConnection)
        assert isinstance(request_conn, HTTP1Connection)
        self.busy.pop(server_conn, None)
        inner = super().start_request(server_conn, request_conn)
        mark_busy = functools.partial(self.busy.__setitem__, server_conn, request_conn)
        if isinstance(inner, ReportsHeaders):
            inner.on_headers = mark_busy
            return inner
        return _Watch(inner, mark_busy)

    def on_close(self, server_conn: object) -> None:
        assert isinstance(server_conn, HTTP1ServerConnection)
        self.busy.pop(server_conn, None)
        super().on_close(server_conn)

    @property
    def open(self) -> set[HTTP1ServerConnection]:
        """Every HTTP connection being served: Tornado's own table, which has a connection from
        the moment it is accepted (before its first request is even asked for)."""
        return self._connections

    def begin_drain(self) -> None:
        """No more keep-alive: later requests are read with ``no_keep_alive`` (Tornado then
        answers ``Connection: close`` and closes after the response), and the requests already
        running are marked the same way. ``_disconnect_on_finish`` is the flag Tornado itself
        sets from ``no_keep_alive`` when it reads a request's headers; there is no public way
        to set it for a request already read."""
        self.draining = True
        self.conn_params.no_keep_alive = True
        for request_conn in self.busy.values():
            request_conn._disconnect_on_finish = True

    def close_idle(self) -> int:
        """Close every connection waiting for a request of which nothing has arrived; returns
        how many HTTP connections remain open."""
        for server_conn in list(self.open - self.busy.keys()):
            if not _received_anything(server_conn):
                server_conn.stream.close()
        return len(self.open)


def _received_anything(server_conn: HTTP1ServerConnection) -> bool:
    stream = server_conn.stream
    if stream.closed():
        return False
    if not stream.reading():
        # No read pending: a head has just been read and not yet handed to the delegate
        # (or the next read is not started yet). Only a connection parked in its read for
        # the next request is idle.
        return True
    if getattr(stream, "_read_buffer_size", 0):
        return True  # part of a request is in Tornado's buffer
    poller = select.poll()
    poller.register(stream.fileno(), select.POLLIN)
    return bool(poller.poll(0))
