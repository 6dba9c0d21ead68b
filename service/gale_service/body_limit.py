"""Oversized request bodies get the API's 413 problem+json, not Tornado's bare 400.

Tornado enforces ``max_body_size`` in the connection, before any handler runs: it answers
``400 Bad Request`` with no body and closes. Gale wants every error to be problem+json, so
the server's own cap is set much higher (:data:`DISCARD_CAP_BYTES`) and this delegate passes a
handler at most ``limit + 1`` bytes, dropping the rest as it arrives. The handler sees a body
over the limit and answers 413 the usual way (logged, counted, with a request id), while
memory stays bounded by the limit. Reading and discarding the excess rather than closing at
once matters: a client still sending would otherwise see a connection reset instead of the
answer. The time spent is bounded by the server's body timeout.
"""

from __future__ import annotations

from collections.abc import Awaitable

from tornado import httputil

#: Above this, Tornado's own limit applies (bare 400, connection closed): a bound on how much
#: a client may make the server read just to be told no.
DISCARD_CAP_BYTES = 16 * 1024 * 1024


class BodyLimit(httputil.HTTPServerConnectionDelegate):
    """Wrap the Application so each request's body reaches it truncated to ``limit + 1``."""

    def __init__(self, application: httputil.HTTPServerConnectionDelegate, *, limit: int) -> None:
        self.application = application
        self.limit = limit

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        inner = self.application.start_request(server_conn, request_conn)
        return _TruncatingDelegate(inner, keep=self.limit + 1)

    def on_close(self, server_conn: object) -> None:
        self.application.on_close(server_conn)


class _TruncatingDelegate(httputil.HTTPMessageDelegate):
    def __init__(self, inner: httputil.HTTPMessageDelegate, *, keep: int) -> None:
        self._inner = inner
        self._left = keep

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        return self._inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self._left <= 0:
            return None
        chunk = chunk[: self._left]
        self._left -= len(chunk)
        return self._inner.data_received(chunk)

    def finish(self) -> None:
        self._inner.finish()

    def on_connection_close(self) -> None:
        self._inner.on_connection_close()
