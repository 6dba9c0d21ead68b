"""What happens to a request before any handler sees it: the body is capped, and the request
counts as in flight from its headers on.

Body cap. Tornado enforces ``max_body_size`` in the connection, before any handler runs: it
answers ``400 Bad Request`` with no body and closes. Gale wants every error to be
problem+json, so the server's own cap is set much higher (:data:`DISCARD_CAP_BYTES`) and a
handler gets at most ``limit + 1`` bytes, the rest being dropped as it arrives. The handler
sees a body over the limit and answers 413 the usual way (logged, counted, with a request
id), while memory stays bounded by the limit. Reading and discarding the excess rather than
closing at once matters: a client still sending would otherwise see a connection reset
instead of the answer. The time spent is bounded by the server's body timeout.

In flight. Handlers count themselves in flight from ``prepare()``, which Tornado calls only
once the whole body has arrived. A client uploading slowly when SIGTERM comes would not be
waited for, and its request would be cut off. So a request is counted here from its headers
until its handler has taken over (or the connection is gone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from tornado import httputil

from gale_service.inflight import InFlight

#: Above this, Tornado's own limit applies (bare 400, connection closed): a bound on how much
#: a client may make the server read just to be told no.
DISCARD_CAP_BYTES = 16 * 1024 * 1024


class RequestIntake(httputil.HTTPServerConnectionDelegate):
    """Wrap the Application: bodies truncated to ``limit + 1``, requests counted early."""

    def __init__(
        self,
        application: httputil.HTTPServerConnectionDelegate,
        *,
        limit: int,
        inflight: InFlight,
    ) -> None:
        self.application = application
        self.limit = limit
        self.inflight = inflight

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        inner = self.application.start_request(server_conn, request_conn)
        return _Intake(inner, keep=self.limit + 1, inflight=self.inflight)

    def on_close(self, server_conn: object) -> None:
        self.application.on_close(server_conn)


class _Intake(httputil.HTTPMessageDelegate):
    def __init__(
        self, inner: httputil.HTTPMessageDelegate, *, keep: int, inflight: InFlight
    ) -> None:
        self._inner = inner
        self._left = keep
        self._inflight = inflight
        self._counted = False

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        self._inflight.enter()
        self._counted = True
        return self._inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self._left <= 0:
            return None
        chunk = chunk[: self._left]
        self._left -= len(chunk)
        return self._inner.data_received(chunk)

    def finish(self) -> None:
        self._inner.finish()
        # The handler's task starts on the next loop turn and counts itself in prepare();
        # let go only after that, so the count never drops to zero in between.
        asyncio.get_running_loop().call_soon(self._release)

    def on_connection_close(self) -> None:
        self._inner.on_connection_close()
        self._release()

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            self._inflight.leave()
