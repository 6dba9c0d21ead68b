"""Clients for the security tests: a cookie-keeping browser stand-in and WebSocket helpers."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

from tests.service.harness import ADMIN, ADMIN_PASSWORD, LiveService

XSRF_INPUT = re.compile(r'name="_xsrf" value="([^"]+)"')


def set_cookies(response: HTTPResponse) -> dict[str, dict[str, Any]]:
    """Every ``Set-Cookie`` of a response: name → value and attributes (lower-case keys)."""
    cookies: dict[str, dict[str, Any]] = {}
    for line in response.headers.get_list("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(line)
        for name, morsel in jar.items():
            attributes = {key: morsel[key] for key in morsel.keys() if morsel[key]}  # noqa: SIM118
            cookies[name] = {"value": morsel.value, **attributes, "raw": line}
    return cookies


@dataclass
class Browser:
    """Keeps cookies between requests, like a browser, and never sends a bearer token."""

    live: LiveService
    cookies: dict[str, str] = field(default_factory=dict)

    async def fetch(self, path: str, **kwargs: Any) -> HTTPResponse:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = await self.live.fetch(
            path, headers=headers, auth=False, follow_redirects=False, **kwargs
        )
        for name, cookie in set_cookies(response).items():
            if cookie["value"]:
                self.cookies[name] = cookie["value"]
            else:
                self.cookies.pop(name, None)
        return response

    async def form_token(self, path: str = "/login") -> str:
        page = await self.fetch(path)
        match = XSRF_INPUT.search(page.body.decode())
        assert match, "the page has no _xsrf field"
        return match.group(1)

    async def submit(self, path: str, body: str) -> HTTPResponse:
        """POST ``body`` (already form-encoded, or deliberately not) as an HTML form would."""
        return await self.fetch(
            path,
            method="POST",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    async def login(self, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> HTTPResponse:
        token = await self.form_token()
        return await self.submit(
            "/login", f"_xsrf={token}&username={username}&password={password}&next=/"
        )


def ws_url(live: LiveService) -> str:
    return live.base_url.replace("http://", "ws://") + "/api/v1/ws"


async def connect(
    live: LiveService, *, token: str | None = None, headers: dict[str, str] | None = None
) -> WebSocketClientConnection:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return await websocket_connect(HTTPRequest(ws_url(live), headers=all_headers))


async def refused(live: LiveService, **kwargs: Any) -> HTTPClientError:
    try:
        connection = await connect(live, **kwargs)
    except HTTPClientError as error:
        return error
    connection.close()
    raise AssertionError("the WebSocket upgrade was accepted")


async def frame(connection: WebSocketClientConnection, *, timeout: float = 5.0) -> dict[str, Any]:
    message = await asyncio.wait_for(connection.read_message(), timeout)
    assert message is not None, f"connection closed ({connection.close_code})"
    decoded: dict[str, Any] = json.loads(message)
    return decoded


async def send(connection: WebSocketClientConnection, message: dict[str, Any]) -> None:
    await connection.write_message(json.dumps(message))


async def subscribe(connection: WebSocketClientConnection, **options: Any) -> dict[str, Any]:
    """Subscribe and return the ``subscribed`` frame (after any replayed events)."""
    await send(connection, {"type": "subscribe", **options})
    while True:
        reply = await frame(connection)
        if reply["type"] == "subscribed":
            return reply
