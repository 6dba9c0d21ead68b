"""SIGTERM drains a real ``python -m gale_service``: readiness drops at once, a slow request
in flight completes, new connections are refused after the drain period, and it exits 0."""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bson import ObjectId
from pymongo import MongoClient

from tests.mongo import SecantusServer
from tests.service.process import ServiceProcess

ITEMS = 1500
DRAIN_SECONDS = 1.0


def seed(uri: str, database: str) -> None:
    now = datetime.now(UTC)
    documents = [
        {
            "_id": ObjectId(),
            "name": f"item {n}",
            "description": "d" * 2000,
            "tags": ["bulk"],
            "owner": "admin",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for n in range(ITEMS)
    ]
    with MongoClient(uri) as client:
        client[database]["items"].insert_many(documents)


def probe(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def slow_export(port: int, headers: dict[str, str]) -> http.client.HTTPResponse:
    """Start an export on a socket with a tiny receive buffer, so the server must wait for us."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    request = "GET /api/v1/export/items HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    request += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request += "X-Request-ID: slow-export-1\r\n\r\n"
    sock.sendall(request.encode())
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response


def trickling_create(port: int, headers: dict[str, str]) -> tuple[socket.socket, bytes]:
    """Start a POST whose body is only half sent; returns the socket and the other half."""
    body = json.dumps({"name": "trickled in", "description": "x" * 4000}).encode()
    head = f"POST /api/v1/items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    head += "Content-Type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(head.encode() + b"\r\n" + body[: len(body) // 2])
    return sock, body[len(body) // 2 :]


def test_sigterm_drains_then_exits_zero(mongo_server: SecantusServer, tmp_path: Path) -> None:
    database = f"t_{uuid.uuid4().hex[:16]}"
    seed(mongo_server.uri, database)
    service = ServiceProcess(
        tmp_path,
        mongodb_uri=mongo_server.uri,
        mongodb_database=database,
        drain_seconds=str(DRAIN_SECONDS),
        shutdown_timeout_seconds="30",
    )
    service.start()
    try:
        deadline = time.monotonic() + 30
        while probe(service.port, "/readyz") != 200:
            assert time.monotonic() < deadline, service.log_path.read_text()
            time.sleep(0.05)

        export = slow_export(service.port, service.bearer())
        assert export.status == 200
        first = export.read(1024)
        upload, rest = trickling_create(service.port, service.bearer())

        service.terminate()
        signalled = time.monotonic()
        while probe(service.port, "/readyz") != 503:
            assert time.monotonic() - signalled < DRAIN_SECONDS / 2, "readiness must drop at once"
            time.sleep(0.01)
        assert probe(service.port, "/livez") == 200, "still serving while draining"

        time.sleep(DRAIN_SECONDS + 0.5)
        try:
            refused = probe(service.port, "/livez") and False
        except ConnectionRefusedError:
            refused = True
        assert refused, "new connections must be refused once the drain period is over"
        assert service.process is not None
        assert service.process.poll() is None, "must wait for the requests in flight"

        body = first
        while chunk := export.read(64 * 1024):
            body += chunk
        lines = body.decode().splitlines()
        assert len(lines) == ITEMS, "the slow request completed in full"
        assert json.loads(lines[-1])["name"] == f"item {ITEMS - 1}"

        time.sleep(0.3)  # the export is done: only the upload keeps the service waiting now
        upload.sendall(rest)
        created = http.client.HTTPResponse(upload)
        created.begin()
        assert created.status == 201, "a body still arriving when SIGTERM came is waited for"
        assert json.loads(created.read())["name"] == "trickled in"
        upload.close()

        assert service.wait(timeout=30) == 0
    finally:
        service.kill()

    logged = service.log_lines()
    messages = [line["message"] for line in logged]
    assert messages.index("draining") < messages.index("stopped")
    access = [line for line in logged if line.get("request_id") == "slow-export-1"]
    assert len(access) == 1
    assert access[0]["route"] == "/api/v1/export/items"
    assert access[0]["status"] == 200
    assert access[0]["method"] == "GET"
    assert access[0]["duration_ms"] > DRAIN_SECONDS * 1000


def test_sigterm_to_the_parent_drains_every_worker(
    mongo_server: SecantusServer, tmp_path: Path
) -> None:
    """GALE_WORKERS=2: the signal reaches both forked workers; the parent exits 0 after them."""
    service = ServiceProcess(
        tmp_path,
        mongodb_uri=mongo_server.uri,
        mongodb_database=f"t_{uuid.uuid4().hex[:16]}",
        workers="2",
        drain_seconds="0.1",
    )
    service.start()
    try:
        deadline = time.monotonic() + 30
        while len([line for line in service.log_lines() if line["message"] == "listening"]) < 2:
            assert time.monotonic() < deadline, service.log_path.read_text()
            time.sleep(0.05)
        assert all(probe(service.port, "/livez") == 200 for _ in range(4))
        service.terminate()
        assert service.wait(timeout=30) == 0
    finally:
        service.kill()
    messages = [line["message"] for line in service.log_lines()]
    assert messages.count("draining") == 2
    assert messages.count("stopped") == 2
