"""A deliberately slow WebSocket client: it speaks just enough RFC 6455 to subscribe, then
stops reading, with a tiny receive buffer, so the server sees a consumer that cannot keep up."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any


def masked_text_frame(payload: bytes) -> bytes:
    """A client→server text frame (clients must mask; RFC 6455 §5.3)."""
    mask = os.urandom(4)
    header = bytes([0x81])
    length = len(payload)
    if length < 126:
        header += bytes([0x80 | length])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + body


class StalledClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int, *, token: str) -> StalledClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /api/v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        status = await reader.readuntil(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status
        return cls(reader, writer)

    async def send(self, message: dict[str, Any]) -> None:
        self.writer.write(masked_text_frame(json.dumps(message).encode()))
        await self.writer.drain()

    async def read_until_close(self, *, timeout: float) -> tuple[int, list[bytes]]:
        """Read (finally) every frame up to the close frame: its code and the texts before."""
        texts: list[bytes] = []
        async with asyncio.timeout(timeout):
            while True:
                first, second = await self.reader.readexactly(2)
                length = second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(length)
                opcode = first & 0x0F
                if opcode == 0x8:
                    code: int = struct.unpack("!H", payload[:2])[0]
                    return code, texts
                if opcode == 0x1:
                    texts.append(payload)

    def close(self) -> None:
        self.writer.close()
