"""``python -m bench.memory``: resident memory per idle keep-alive connection and per subscriber.

Starts Gale's default stack on one SecantusDB, then opens ``--connections`` keep-alive
connections that each make one ``GET /livez`` and stay idle, and ``--subscribers`` live
WebSockets that each subscribe to everything and wait. The server's RSS before and after each
step, divided by the count, is the cost of one; both are what a pod's memory request must
cover at its expected concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Sequence

from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from bench.harness import rss_bytes
from bench.request_path import backends, start


def _settled_rss(pid: int, *, seconds: float = 1.5) -> int:
    """RSS once the server has had time to finish the step (allocations settle)."""
    time.sleep(seconds)
    return rss_bytes(pid)


async def _idle_connections(port: int, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    request = f"GET /livez HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)
    return writers


async def _subscribers(base: str, token: str, count: int) -> list[WebSocketClientConnection]:
    url = base.replace("http://", "ws://") + "/api/v1/ws"
    sockets = []
    for _ in range(count):
        request = HTTPRequest(url, headers={"Authorization": f"Bearer {token}"})
        socket = await websocket_connect(request)
        await socket.write_message(json.dumps({"type": "subscribe"}))
        frame = await socket.read_message()
        if frame is None or json.loads(frame)["type"] != "subscribed":
            raise SystemExit(f"bench: subscribing failed: {frame!r}")
        sockets.append(socket)
    return sockets


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--subscribers", type=int, default=500)
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.new_event_loop()
    with backends("gale-memory-") as shared, start("gale", shared) as server:
        port = int(server.base.rsplit(":", 1)[1])
        token = server.headers["Authorization"].split()[1]
        loop.run_until_complete(_idle_connections(port, 20))  # warm every code path once
        before = _settled_rss(server.pid)
        connections = loop.run_until_complete(_idle_connections(port, args.connections))
        with_connections = _settled_rss(server.pid)
        loop.run_until_complete(_subscribers(server.base, token, 5))
        before_subscribers = _settled_rss(server.pid)
        subscribers = loop.run_until_complete(_subscribers(server.base, token, args.subscribers))
        with_subscribers = _settled_rss(server.pid)
        per_connection = (with_connections - before) / args.connections
        per_subscriber = (with_subscribers - before_subscribers) / args.subscribers
        print(f"RSS at rest: {before / 2**20:.1f} MiB")
        print(f"per idle keep-alive connection: {per_connection / 1024:.1f} KiB")
        print(f"per live subscriber: {per_subscriber / 1024:.1f} KiB")
        for socket in subscribers:
            socket.close()
        for writer in connections:
            writer.close()
    loop.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
