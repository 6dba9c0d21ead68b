"""A request line or header block over the limit is answered 414 or 431, not dropped.

Tornado reads each request's head with ``read_until_regex(max_bytes=...)``; past the limit the
``IOStream`` closes the socket itself, so the client sees a reset and never learns why. Here
the server hands each connection a view of its stream whose head read stops at the limit
with a match of its own: the server then answers ``414 URI Too Long`` (no line end within
the limit: the request line is too long) or ``431 Request Header Fields Too Large`` as
problem+json, and closes. Every other read and write goes to the stream untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import socket
import types
from asyncio import Future
from typing import Any, cast

from tornado.http1connection import HTTP1ServerConnection
from tornado.httpserver import HTTPServer, _HTTPRequestContext
from tornado.iostream import IOStream, StreamClosedError

from gale_service.problems import PROBLEM_JSON, Problem
from gale_service.security.headers import security_headers

log = logging.getLogger(__name__)
#: What ``HTTP1Connection`` reads a request head up to.
HEAD_END = b"\r?\n\r?\n"  # exactly the bytes HTTP1Connection passes
#: How long, and how much, a refused client may keep sending before the socket closes.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


#: What ``HTTP1Connection`` writes, and nothing else, for a request it cannot parse.
BARE_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"


def too_large_answer(status: int, *, limit: int, tls: bool) -> bytes:
    part = "request line" if status == 414 else "request head"
    return answer(
        Problem(
            status,
            f"the {part} exceeds the limit of {limit} bytes (GALE_MAX_HEADER_BYTES)",
            slug="head-too-large",
        ),
        tls=tls,
    )


def answer(problem: Problem, *, tls: bool) -> bytes:
    """A whole problem+json response, for a connection that closes after it."""
    status = problem.status_code
    body = json.dumps(problem.body()).encode()
    headers = {
        **security_headers(tls=tls),
        "Content-Type": f"{PROBLEM_JSON}; charset=UTF-8",
        "Content-Length": str(len(body)),
        "Connection": "close",
    }
    head = f"HTTP/1.1 {status} {problem.title}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    return head.encode("latin-1") + b"\r\n" + body


class _HeadLimitedStream:
    """``stream``, with request-head reads bounded by an answer instead of a reset, and
    Tornado's bare 400 for an unparsable request replaced by a problem+json one."""

    def __init__(self, stream: IOStream, *, tls: bool) -> None:
        self._stream = stream
        self._tls = tls
        # Read by HTTP1Connection for every request, fixed for the stream's life.
        self.io_loop = stream.io_loop
        self.max_buffer_size = stream.max_buffer_size

    def __getattr__(self, name: str) -> Any:
        """Everything else is the stream's. Its methods are bound to this one stream for
        good, so each is looked up once and kept on the view (Tornado calls ``closed``,
        ``set_close_callback``, ``read_bytes``... several times per request); plain attributes
        (``error``, ``socket``, ...) change, and are read through every time."""
        value = getattr(self._stream, name)
        if isinstance(value, types.MethodType):
            self.__dict__[name] = value
        return value

    def write(self, data: bytes | memoryview) -> Future[None]:
        if data == BARE_400:
            problem = Problem(
                400,
                "the request is not well-formed HTTP/1.1 (request line, header syntax, "
                "Content-Length or Transfer-Encoding)",
                slug="malformed-request",
            )
            data = answer(problem, tls=self._tls)
        return self._stream.write(data)

    async def read_until_regex(self, regex: bytes, max_bytes: int | None = None) -> bytes:
        if max_bytes is None or regex != HEAD_END:
            return await self._stream.read_until_regex(regex, max_bytes)
        data = await self._stream.read_until_regex(bounded_head(max_bytes))
        if len(data) <= max_bytes:
            return data
        line_end = data.find(b"\n")
        status = 414 if line_end < 0 or line_end > max_bytes else 431
        log.info("refused an oversized request head", extra={"status": status})
        await answer_and_close(
            self._stream, too_large_answer(status, limit=max_bytes, tls=self._tls), tls=self._tls
        )
        raise StreamClosedError()


@functools.cache
def bounded_head(limit: int) -> bytes:
    """A pattern that matches a whole request head (what ``HEAD_END`` would end), or more
    than ``limit`` bytes holding no head end: so the read always ends, bounded, and the
    caller tells the two apart by length. Anchored and line-wise, it is cheaper than
    ``HEAD_END`` itself (0.6 µs against 8 µs for a 330-byte head, measured)."""
    over = rb"(?=[\s\S]{%d})(?:[^\n]++|\n(?!\r?\n))*+(?<=[\s\S]{%d})" % (limit + 1, limit + 1)
    head = rb"(?:[^\n]*+\n)+?\r?\n"
    return rb"\A(?:" + over + rb"|" + head + rb")"


async def answer_and_close(stream: IOStream, response: bytes, *, tls: bool) -> None:
    """Write a final ``response`` and close without resetting the connection.

    A client still sending (its head, or a body it was told not to send) would otherwise get a
    TCP reset, which can discard the answer before it is read. So: stop writing, drain what
    keeps arriving for at most :data:`LINGER_SECONDS` and :data:`LINGER_BYTES`, then close.
    """
    with contextlib.suppress(StreamClosedError):
        await stream.write(response)
    if not tls:  # a TLS socket cannot half-close without ending the session
        with contextlib.suppress(OSError):
            stream.socket.shutdown(socket.SHUT_WR)
    drained = 0
    with contextlib.suppress(StreamClosedError, TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            while drained < LINGER_BYTES:
                drained += len(await stream.read_bytes(65536, partial=True))
    stream.close()


class HeadLimitedHTTPServer(HTTPServer):
    """Tornado's ``HTTPServer``, answering 414/431 for oversized request heads."""

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        context = _HTTPRequestContext(stream, address, self.protocol, self.trusted_downstream)
        limited = _HeadLimitedStream(stream, tls=context.protocol == "https")
        connection = HTTP1ServerConnection(cast(IOStream, limited), self.conn_params, context)
        self._connections.add(connection)
        connection.start_serving(self)
