"""A raw HTTP/1.1 client over a plain socket: for requests no well-behaved client sends
(bytes that are not UTF-8 in the path, heads over the limit, lying Content-Length)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class NoAnswer(AssertionError):
    """The server closed the connection (or went silent) without a status line."""


async def exchange(
    port: int, request: bytes, *, body_after_head: bytes = b"", timeout: float = 10.0
) -> RawResponse:
    """Send ``request`` (then ``body_after_head``, as long as the server reads), and read
    one response. The connection is closed afterwards either way."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            if body_after_head:
                writer.write(body_after_head)
                await writer.drain()
        try:
            async with asyncio.timeout(timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as error:
            raise NoAnswer(f"no response to {request[:80]!r}: {error!r}") from None
        response = parse_head(head)
        length = response.headers.get("content-length")
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            async with asyncio.timeout(timeout):
                if length is not None:
                    response.body = await reader.readexactly(int(length))
                elif response.headers.get("transfer-encoding") == "chunked":
                    response.body = await read_chunked(reader)
        return response
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def parse_head(head: bytes) -> RawResponse:
    lines = head.decode("latin-1").split("\r\n")
    _, status, reason = [*lines[0].split(" ", 2), ""][:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return RawResponse(status=int(status), reason=reason, headers=headers)


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            return body
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def request_bytes(
    method: str,
    target: bytes | str,
    *,
    headers: Sequence[tuple[str, bytes | str]] = (),
    body: bytes = b"",
    host: str = "127.0.0.1",
) -> bytes:
    """A request with exactly these bytes; ``Host`` and ``Connection: close`` added."""
    raw_target = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + raw_target + b" HTTP/1.1", b"Host: " + host.encode()]
    for name, value in headers:
        raw = value.encode("latin-1") if isinstance(value, str) else value
        lines.append(name.encode() + b": " + raw)
    if body and not any(name.lower() == "content-length" for name, _ in headers):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def status_while_sending(
    port: int, request: bytes, body: bytes, *, timeout: float = 10.0
) -> int:
    """The status a client sees while it keeps sending ``body``, reading as it goes, like
    curl or a browser uploading: the answer must arrive before any connection reset."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(request)
            for start in range(0, len(body), 65536):
                writer.write(body[start : start + 65536])
                await writer.drain()

    sender = asyncio.create_task(send())
    try:
        async with asyncio.timeout(timeout):
            head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as error:
        raise NoAnswer(f"no response while sending {request[:80]!r}: {error!r}") from None
    finally:
        sender.cancel()
        writer.close()
    return parse_head(head).status
