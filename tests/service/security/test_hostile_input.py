"""Hostile requests against every route family: each gets an answer below 500 (never a
dropped connection), and API paths answer problem+json. Driven over raw sockets against a
real running service, so bytes no polite client sends reach the server as sent."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import struct
from collections.abc import AsyncIterator

import pytest

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service
from tests.service.raw_http import RawResponse, exchange, request_bytes, status_while_sending

Headers = list[tuple[str, bytes | str]]


def forged_jwt(header: object, payload: object | None = None) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload or {'sub': 'admin'})}.c2lnbmF0dXJl"


#: (name, extra headers): each is sent to every path of every family.
HOSTILE_HEADERS: list[tuple[str, Headers]] = [
    ("cookie not in the signed format", [("Cookie", "gale_session=x")]),
    ("cookie v2 garbage", [("Cookie", "gale_session=2|1:0|10:1|x")]),
    (
        "cookie v2 unknown key",
        [("Cookie", "gale_session=2|1:9|10:1700000000|12:gale_session|4:e30=|00")],
    ),
    ("cookie v1 shape", [("Cookie", "gale_session=e30=|1700000000|deadbeef")]),
    ("cookie syntax", [("Cookie", '=;;; gale_session="unterminated; _xsrf=')]),
    ("cookie not UTF-8", [("Cookie", b"gale_session=\xff\xfe; _xsrf=\xc0\xaf")]),
    ("xsrf garbage", [("Cookie", "_xsrf=2|zz|zz|zz; gale_session=x"), ("X-XSRFToken", "2|zz")]),
    (
        "jwt kid not a string",
        [("Authorization", "Bearer " + forged_jwt({"alg": "HS256", "kid": 5}))],
    ),
    (
        "jwt unknown crit",
        [
            (
                "Authorization",
                "Bearer " + forged_jwt({"alg": "HS256", "kid": "test-2", "crit": ["zz"]}),
            )
        ],
    ),
    (
        "jwt crit not a list",
        [("Authorization", "Bearer " + forged_jwt({"alg": "HS256", "crit": 7}))],
    ),
    (
        "jwt alg not a string",
        [("Authorization", "Bearer " + forged_jwt({"alg": 5, "kid": "test-2"}))],
    ),
    ("jwt alg a list", [("Authorization", "Bearer " + forged_jwt({"alg": ["HS256"]}))]),
    ("jwt header an array", [("Authorization", "Bearer " + forged_jwt([1, 2]))]),
    ("jwt not base64", [("Authorization", "Bearer a.b.c")]),
    ("jwt not UTF-8", [("Authorization", b"Bearer \xff\xfe.\xff.\xff")]),
    ("bearer without token", [("Authorization", "Bearer")]),
    ("unknown scheme", [("Authorization", "Basic Og==")]),
    ("huge accept-language", [("Accept-Language", "de-DE;q=0.9," * 900)]),
    ("junk accept-language", [("Accept-Language", "q=;;,,*;q=x, \xff;q=1e999, -;q=-1")]),
    ("junk accept", [("Accept", ";q=abc, */*;q=NaN, text/;q=1e999")]),
    ("accept qvalue 1.2.3", [("Accept", "text/html;q=1.2.3, application/json;q=0.5.5")]),
    ("junk accept-encoding", [("Accept-Encoding", "gzip;q=x, \xff")]),
    ("junk if-none-match", [("If-None-Match", 'W/"\x01, *, ",,W/')]),
    ("junk if-match", [("If-Match", '"unterminated')]),
    ("if-match with 5000 digits", [("If-Match", '"' + "9" * 5000 + '"')]),
    ("junk range", [("Range", "bytes=9-1, -0, x")]),
    ("range past the end", [("Range", "bytes=99999999999999999999-")]),
    ("junk forwarded-for", [("X-Forwarded-For", "::::, 999.1.1.1, \xff")]),
    ("junk request id", [("X-Request-ID", "\xff" * 300)]),
    ("junk origin", [("Origin", "http://[")]),
    ("duplicate authorization", [("Authorization", "Bearer a"), ("Authorization", "Bearer b")]),
    ("duplicate cookie", [("Cookie", "gale_session=x"), ("Cookie", "gale_session=y")]),
]

#: Path and query hostility, appended to (or replacing the tail of) each family's paths.
HOSTILE_TAILS = [
    "%00",
    "%0d%0a",
    "%ff",
    "%c0%af",
    "..%2f..%2fetc%2fpasswd",
    "%252e%252e",
    "x" * 4000,
    "?limit=%zz&cursor=%ff&tag=%00",
    "?limit=99999999999999999999999999",
    "?limit=%C2%B2",  # "²": str.isdigit() says yes, int() says no
    "?limit=" + "9" * 5000,  # int() refuses over 4300 digits
    "?limit=-1&limit=5",
    "?cursor=!!!!&tag=" + "t" * 3000,
    "?next=%ff&v=%00&lang=%c0",
]

FAMILIES: dict[str, list[tuple[str, str]]] = {
    "api": [
        ("GET", "/api/v1/items"),
        ("GET", "/api/v1/items/"),
        ("GET", "/api/v1/export/items"),
        ("GET", "/api/v1/auth/me"),
        ("DELETE", "/api/v1/items/"),
        ("DELETE", "/api/v1/items/000000000000000000000000"),
        ("GET", "/api/v1/items/000000000000000000000000"),
        ("DELETE", "/api/v1/users/x/sessions"),
        ("GET", "/openapi.json"),
        ("GET", "/no-such-route/"),
    ],
    "pages": [("GET", "/"), ("GET", "/login"), ("GET", "/items/"), ("POST", "/logout")],
    "static": [("GET", "/static/app.css"), ("GET", "/static/")],
    "probes": [("GET", "/livez"), ("GET", "/readyz"), ("GET", "/startupz")],
    "metrics": [("GET", "/metrics")],
    "websocket": [("GET", "/api/v1/ws")],
}

WS_UPGRADE: Headers = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
]


def is_api(path: str) -> bool:
    return path.startswith(
        ("/api/", "/openapi.json", "/no-such-route", "/livez", "/readyz", "/startupz")
    )


def verdict(method: str, path: str, response: RawResponse) -> str | None:
    """What is wrong with the answer, or ``None``."""
    if response.status >= 500:
        return f"{response.status}: {response.body[:200]!r}"
    if response.status != 101 and response.headers.get("x-content-type-options") != "nosniff":
        return f"{response.status} without the security headers"
    if response.status >= 400 and is_api(path):
        if not response.content_type.startswith("application/problem+json"):
            return f"{response.status} as {response.content_type!r}, not problem+json"
        document = json.loads(response.body)
        if document.get("status") != response.status or not document.get("detail"):
            return f"problem body {document!r} does not match {response.status}"
    return None


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri, driver="pymongo") as service:
        yield service


@pytest.fixture
def uncaught(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records of exceptions Tornado had to catch itself: each one is a bug."""
    caplog.set_level(logging.ERROR)
    return caplog.records


def port_of(live: LiveService) -> int:
    return int(live.base_url.rsplit(":", 1)[1])


def errors_logged(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_hostile_headers_and_paths_never_get_a_5xx(
    live: LiveService, family: str, uncaught: list[logging.LogRecord]
) -> None:
    port = port_of(live)
    failures: list[str] = []
    extra = WS_UPGRADE if family == "websocket" else []
    cases: list[tuple[str, str, Headers]] = []
    for method, path in FAMILIES[family]:
        for name, headers in HOSTILE_HEADERS:
            cases.append((f"{method} {path} [{name}]", method + " " + path, [*extra, *headers]))
        for tail in HOSTILE_TAILS:
            target = (
                path + tail if path.endswith("/") or tail.startswith("?") else path + "/" + tail
            )
            cases.append((f"{method} {target[:60]}", method + " " + target, list(extra)))
    signed_in: Headers = [("Authorization", f"Bearer {live.token}")]
    for label, line, headers in cases:
        method, _, target = line.partition(" ")
        # Anonymous, and signed in (so the hostility reaches past authentication) unless the
        # case is about the Authorization header itself.
        sends_auth = any(name == "Authorization" for name, _ in headers)
        for who, credentials in (("anonymous", []), ("signed in", signed_in)):
            if sends_auth and credentials:
                continue
            request = request_bytes(method, target, headers=[*headers, *credentials])
            try:
                response = await exchange(port, request)
            except AssertionError as error:
                failures.append(f"{label} ({who}): {error}")
                continue
            problem = verdict(method, target, response)
            if problem:
                failures.append(f"{label} ({who}): {problem}")
    assert not failures, "\n".join(failures)
    assert not errors_logged(uncaught)
    assert (await live.fetch("/livez")).code == 200


DEEP = b"[" * 100_000 + b"]" * 100_000
BODIES: list[tuple[str, bytes]] = [
    ("deeply nested", DEEP),
    ("deeply nested object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    ("not UTF-8", b'{"name": "\xff\xfe"}'),
    ("lone surrogate", b'{"name": "\\ud800", "username": "\\udfff", "password": "x"}'),
    ("huge number", b'{"name": ' + b"9" * 5000 + b"}"),
    ("NaN and Infinity", b'{"name": NaN, "tags": [Infinity]}'),
    ("duplicate keys", b'{"name": "a", "name": {"$gt": ""}}'),
    ("operator injection", b'{"username": {"$ne": null}, "password": {"$ne": null}}'),
    ("not an object", b'"just a string"'),
    ("empty", b""),
    ("BOM", b'\xef\xbb\xbf{"name": "a"}'),
    ("UTF-16", '{"name": "a"}'.encode("utf-16")),
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-16",
    "application/json; charset=latin-99; boundary==;;",
    "application/merge-patch+json",
    "application/x-ndjson",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=",
    "\xff/\xfe",
]
BODY_TARGETS = [
    ("POST", "/api/v1/auth/token", False),
    ("POST", "/api/v1/items", True),
    ("PUT", "/api/v1/items/000000000000000000000000", True),
    ("PATCH", "/api/v1/items/000000000000000000000000", True),
    ("POST", "/api/v1/import/items", True),
    ("POST", "/api/v1/users", True),
    ("POST", "/api/v1/auth/password", True),
    ("POST", "/login", False),
]


async def test_hostile_bodies_never_get_a_5xx(
    live: LiveService, uncaught: list[logging.LogRecord]
) -> None:
    """Every body endpoint, authenticated or not, with every hostile body and media type."""
    port = port_of(live)
    failures: list[str] = []
    for method, path, auth in BODY_TARGETS:
        for name, body in BODIES:
            for content_type in CONTENT_TYPES:
                headers: Headers = [("Content-Type", content_type)]
                if auth:
                    headers.append(("Authorization", f"Bearer {live.token}"))
                response = await exchange(
                    port, request_bytes(method, path, headers=headers, body=body)
                )
                problem = verdict(method, path, response)
                if problem:
                    failures.append(f"{method} {path} [{name}, {content_type}]: {problem}")
    assert not failures, "\n".join(failures)
    assert not errors_logged(uncaught)


async def test_deeply_nested_lines_in_an_ndjson_import_are_a_400(live: LiveService) -> None:
    body = b'{"name": "fine"}\n' + DEEP + b"\n"
    response = await live.fetch(
        "/api/v1/import/items",
        method="POST",
        body=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert response.code == 400, response.body
    problem = json.loads(response.body)
    assert problem["errors"] == [{"field": "line 2", "message": "nested too deeply"}]
    assert json.loads((await live.fetch("/api/v1/items")).body)["items"] == []


async def test_a_request_line_over_the_limit_is_a_414(live: LiveService) -> None:
    limit = live.services.settings.max_header_bytes
    response = await exchange(port_of(live), request_bytes("GET", "/" + "a" * (limit * 4)))
    assert response.status == 414
    assert response.content_type.startswith("application/problem+json")
    assert str(limit) in json.loads(response.body)["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_headers_over_the_limit_are_a_431(live: LiveService) -> None:
    limit = live.services.settings.max_header_bytes
    for size in (limit + 10, limit * 12):  # within one read, and far past it
        request = request_bytes("GET", "/api/v1/items", headers=[("X-Pad", "p" * size)])
        response = await exchange(port_of(live), request)
        assert response.status == 431, size
        assert response.content_type.startswith("application/problem+json")
    assert (await live.fetch("/livez")).code == 200


async def test_a_malformed_request_is_a_problem_json_400(live: LiveService) -> None:
    for request in (
        b"GARBAGE\r\n\r\n",
        request_bytes("POST", "/api/v1/items", headers=[("Content-Length", "abc")]),
        request_bytes("POST", "/api/v1/items", headers=[("Content-Length", "5, 6")]),
        request_bytes("POST", "/api/v1/items", headers=[("Transfer-Encoding", "gzip")]),
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n",
    ):
        response = await exchange(port_of(live), request)
        assert response.status == 400, request
        assert response.content_type.startswith("application/problem+json"), request


async def test_a_declared_length_over_the_discard_cap_is_a_413_before_the_body(
    live: LiveService,
) -> None:
    request = request_bytes(
        "POST",
        "/api/v1/items",
        headers=[("Content-Length", str(1 << 40)), ("Content-Type", "application/json")],
    )
    response = await exchange(port_of(live), request)  # no body is ever sent
    assert response.status == 413
    assert response.content_type.startswith("application/problem+json")
    assert json.loads(response.body)["type"].endswith("/body-too-large")


async def test_a_client_still_sending_sees_the_413_and_the_431_not_a_reset(
    live: LiveService,
) -> None:
    port = port_of(live)
    huge = 24 * 1024 * 1024  # over the 16 MiB discard cap
    request = request_bytes(
        "POST",
        "/api/v1/items",
        headers=[("Content-Length", str(huge)), ("Content-Type", "application/json")],
    )
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * (4 * 1024 * 1024)
    for _ in range(3):
        assert await status_while_sending(port, request, b"x" * huge) == 413
        assert await status_while_sending(port, head, b"") == 431
    assert (await live.fetch("/livez")).code == 200


async def test_expect_100_continue_over_the_limit_is_a_413_not_a_100(live: LiveService) -> None:
    limit = live.services.settings.max_body_bytes
    request = request_bytes(
        "POST",
        "/api/v1/items",
        headers=[
            ("Content-Length", str(limit + 1)),
            ("Expect", "100-continue"),
            ("Content-Type", "application/json"),
        ],
    )
    response = await exchange(port_of(live), request)
    assert response.status == 413, response
    assert response.content_type.startswith("application/problem+json")
    within = request_bytes(
        "POST",
        "/api/v1/items",
        headers=[
            ("Content-Length", "13"),
            ("Expect", "100-continue"),
            ("Content-Type", "application/json"),
            ("Authorization", f"Bearer {live.token}"),
        ],
    )
    interim = await exchange(port_of(live), within)
    assert interim.status == 100  # within the limit the client still gets leave to send


async def test_a_client_leaving_mid_export_is_logged_quietly(
    live: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    lines = "\n".join(json.dumps({"name": f"n{n}", "description": "d" * 1000}) for n in range(900))
    for _ in range(6):  # 5.6 MB: more than a socket send buffer grows to (4 MiB)
        imported = await live.fetch(
            "/api/v1/import/items",
            method="POST",
            body=lines,
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert imported.code == 201
    caplog.set_level(logging.INFO)
    # A small receive window, so the server is still writing when the client goes.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port_of(live)))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        request_bytes(
            "GET", "/api/v1/export/items", headers=[("Authorization", f"Bearer {live.token}")]
        )
    )
    await reader.readuntil(b"\r\n\r\n")
    await reader.read(1000)
    writer.transport.abort()  # a reset, mid-stream
    async with asyncio.timeout(10):
        while not any("export abandoned" in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.05)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    ]


def ws_frame(
    opcode: int, payload: bytes, *, masked: bool = True, length: int | None = None
) -> bytes:
    size = len(payload) if length is None else length
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


HOSTILE_FRAMES = {
    "unmasked": ws_frame(0x1, b'{"type": "ping"}', masked=False),
    "text not UTF-8": ws_frame(0x1, b"\xff\xfe"),
    "reserved opcode": ws_frame(0x3, b"x"),
    "absurd length": ws_frame(0x1, b"x", length=1 << 40),
    "deeply nested JSON": ws_frame(0x1, b"[" * 5000 + b"]" * 5000),
    "control frame too long": ws_frame(0x9, b"p" * 200),
    "close with a 1-byte code": ws_frame(0x8, b"\x03"),
}


async def test_hostile_websocket_frames_end_the_socket_cleanly(
    live: LiveService, uncaught: list[logging.LogRecord]
) -> None:
    endings = {}
    for name, frame in HOSTILE_FRAMES.items():
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(live))
        upgrade = request_bytes(
            "GET", "/api/v1/ws", headers=[*WS_UPGRADE, ("Authorization", f"Bearer {live.token}")]
        )
        writer.write(upgrade.replace(b"Connection: close\r\n", b""))
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        writer.write(frame + ws_frame(0x1, b'{"type": "ping"}'))
        # The server answers the ping after an error frame, or ends the socket: either is
        # fine, as long as nothing was raised inside it.
        async with asyncio.timeout(10):
            endings[name] = await next_pong_or_close(reader)
        writer.close()
        assert not errors_logged(uncaught), name
    assert endings["deeply nested JSON"] == "pong", "an invalid message, not a broken socket"
    assert (await live.fetch("/livez")).code == 200


async def next_pong_or_close(reader: asyncio.StreamReader) -> str:
    while True:
        try:
            first, second = await reader.readexactly(2)
        except (asyncio.IncompleteReadError, ConnectionError):
            return "eof"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        if first & 0x0F == 0x8:
            return "close"
        if first & 0x0F == 0x1 and json.loads(payload).get("type") == "pong":
            return "pong"
