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

Refused at once. Two cases are answered 413 problem+json from the headers alone, without
handing a byte of the body to the application, after which the connection closes (after a
short, bounded drain, so a client still sending sees the answer rather than a reset): a
declared ``Content-Length`` above :data:`DISCARD_CAP_BYTES` (more than is worth draining), and
``Expect: 100-continue`` with a declared length over the limit (the client is waiting for
leave to send: it gets the 413 instead of ``100 Continue``, RFC 9110 §10.1.1).

Decompression. A ``Content-Encoding: gzip`` body is decoded here, by Tornado's own decoder,
before the cap applies (the cap is on what the handler sees); the server's
``decompress_request`` is off, so that a request crosses one delegate of Gale's instead of
Tornado's gzip wrapper, this one and the drain's (:class:`~gale_service.draining.ReportsHeaders`).

In flight. Handlers count themselves in flight from ``prepare()``, which Tornado calls only
once the whole body has arrived. A client uploading slowly when SIGTERM comes would not be
waited for, and its request would be cut off. So a request is counted here from its headers
until its handler has taken over (or the connection is gone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from tornado import httputil
from tornado.http1connection import HTTP1Connection, _GzipMessageDelegate

from gale_service.draining import ReportsHeaders
from gale_service.head_limits import answer, answer_and_close
from gale_service.inflight import InFlight
from gale_service.problems import Problem

log = logging.getLogger(__name__)

#: Above this, Tornado's own limit applies (bare 400, connection closed): a bound on how much
#: a client may make the server read just to be told no.
DISCARD_CAP_BYTES = 16 * 1024 * 1024


class RequestIntake(httputil.HTTPServerConnectionDelegate):
    """Wrap the Application: bodies truncated to ``limit + 1``, requests counted early, and
    ``Content-Encoding: gzip`` bodies decompressed (the server's ``decompress_request``, done
    here so that a request crosses one delegate of Gale's, not three)."""

    def __init__(
        self,
        application: httputil.HTTPServerConnectionDelegate,
        *,
        limit: int,
        inflight: InFlight,
        decompress_up_to: int | None = None,
        chunk_size: int = 65536,
    ) -> None:
        """``decompress_up_to``: decompress gzip bodies, refusing (400) one that inflates past
        that many bytes; ``None`` leaves bodies as they come."""
        self.application = application
        self.limit = limit
        self.inflight = inflight
        self.decompress_up_to = decompress_up_to
        self.chunk_size = chunk_size

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        inner = self.application.start_request(server_conn, request_conn)
        return _Intake(inner, intake=self, connection=request_conn)

    def on_close(self, server_conn: object) -> None:
        self.application.on_close(server_conn)


def declared_length(headers: httputil.HTTPHeaders) -> int | None:
    """The ``Content-Length`` a request declares, if it is a plain number (Tornado refuses
    the other shapes itself)."""
    value = headers.get("Content-Length", "").strip()
    # At most 19 digits: int() refuses over 4300, and no body is longer than 2**63 bytes.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 19 else None


def too_large(limit: int, *, tls: bool) -> bytes:
    """The whole 413 response, problem+json, for a connection that closes after it."""
    problem = Problem(
        413, f"request body exceeds the limit of {limit} bytes", slug="body-too-large"
    )
    return answer(problem, tls=tls)


#: Refusals still lingering (asyncio keeps only weak references to tasks).
_closing: set[asyncio.Task[None]] = set()


class _Intake(ReportsHeaders, httputil.HTTPMessageDelegate):
    def __init__(
        self,
        inner: httputil.HTTPMessageDelegate,
        *,
        intake: RequestIntake,
        connection: httputil.HTTPConnection,
    ) -> None:
        self._inner = inner
        self._intake = intake
        self._left = intake.limit + 1
        self._counted = False
        self._connection = connection
        self._refused = False
        self._gzip: _GzipMessageDelegate | None = None

    def _refuse_early(self, headers: httputil.HTTPHeaders) -> bool:
        declared = declared_length(headers)
        limit = self._intake.limit
        if declared is None or declared <= limit:
            return False
        expects = headers.get("Expect", "").strip().lower() == "100-continue"
        if declared <= DISCARD_CAP_BYTES and not expects:
            return False  # drained, then the handler answers 413 (see the module docstring)
        if not isinstance(self._connection, HTTP1Connection):
            return False
        # Take the connection from Tornado, which would otherwise read the body next (or
        # write its own bare 400 for a length over its cap), answer, and close gently.
        tls = getattr(self._connection.context, "protocol", "") == "https"
        task = asyncio.get_running_loop().create_task(
            answer_and_close(self._connection.detach(), too_large(limit, tls=tls), tls=tls)
        )
        _closing.add(task)
        task.add_done_callback(_closing.discard)
        log.info(
            "refused an oversized body before reading it",
            extra={"declared_bytes": declared, "limit_bytes": limit, "expect_continue": expects},
        )
        return True

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        if self.on_headers is not None:
            self.on_headers()
        if self._refuse_early(headers):
            self._refused = True
            return None
        self._intake.inflight.enter()
        self._counted = True
        maximum = self._intake.decompress_up_to
        if maximum is not None and headers.get("Content-Encoding", "").lower() == "gzip":
            # Tornado's own decoder, in front of the body cap: the cap is on what the
            # application would see. It renames the header to X-Consumed-Content-Encoding.
            self._gzip = _GzipMessageDelegate(_Decompressed(self), self._intake.chunk_size, maximum)
            return self._gzip.headers_received(start_line, headers)
        return self._inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self._gzip is not None:
            return self._gzip.data_received(chunk)
        return self.body_received(chunk)

    def body_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Body bytes as the application sees them (decompressed), up to the cap."""
        if self._left <= 0 or self._refused:
            return None
        chunk = chunk[: self._left]
        self._left -= len(chunk)
        return self._inner.data_received(chunk)

    def finish(self) -> None:
        if self._refused:
            return
        if self._gzip is not None:
            self._gzip.finish()  # checks the gzip stream's end, then finish_body()
        else:
            self.finish_body()

    def finish_body(self) -> None:
        self._inner.finish()
        # The handler's task starts on the next loop turn and counts itself in prepare();
        # let go only after that, so the count never drops to zero in between.
        asyncio.get_running_loop().call_soon(self._release)

    def on_connection_close(self) -> None:
        if self._refused:
            return  # the application never saw this request
        self.close_body()

    def close_body(self) -> None:
        self._inner.on_connection_close()
        self._release()

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            self._intake.inflight.leave()


class _Decompressed(httputil.HTTPMessageDelegate):
    """What Tornado's gzip decoder hands on, back into the intake's own steps."""

    def __init__(self, intake: _Intake) -> None:
        self._intake = intake

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        return self._intake._inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._intake.body_received(chunk)

    def finish(self) -> None:
        self._intake.finish_body()

    def on_connection_close(self) -> None:
        self._intake.close_body()
