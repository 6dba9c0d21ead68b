"""``/api/v1/ws``: live change events of every resource over a WebSocket.

The upgrade is refused unless the caller is authenticated (bearer token, or session cookie
from a page) and, for browsers, the ``Origin`` is allowed: a cookie-authenticated WebSocket
is otherwise open to cross-site hijacking, since browsers do not apply CORS to WebSockets.
Frames out go through the subscription's bounded queue (see ``live.hub``); one writer task
per socket sends them, and catches the subscription up from the log when it fell behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from tornado.web import HTTPError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from gale_service.auth.principal import Principal
from gale_service.auth.request import authenticate, unauthorized
from gale_service.live.feed import LiveFeed
from gale_service.live.frames import dumps, error_frame, subscribed_frame
from gale_service.live.hub import SLOW_SEND_SECONDS, TRY_AGAIN_LATER, Subscription
from gale_service.live.messages import InvalidMessage, parse_client_message
from gale_service.problems import PROBLEM_JSON, Problem, problem_for_status
from gale_service.security.client_ip import client_ip
from gale_service.security.headers import set_security_headers
from gale_service.services import services_of
from gale_service.store import StoreUnavailable
from gale_service.telemetry.metrics import websocket_closed, websocket_message, websocket_opened
from gale_service.telemetry.tracing import websocket_message_span

POLICY_VIOLATION = 1008
#: Put in the queue to wake the writer; never sent.
WAKE = ""


class LiveSocketHandler(WebSocketHandler):
    def initialize(self, route: str = "/api/v1/ws", **_: Any) -> None:
        self.route = route
        self.services = services_of(self.application)
        self.principal: Principal | None = None
        self.subscription: Subscription | None = None
        self.invalid_messages = 0
        self._writer: asyncio.Task[None] | None = None
        self._standing: asyncio.Task[None] | None = None
        #: A subscribe request the writer has yet to act on.
        self._pending: dict[str, Any] | None = None

    @property
    def feed(self) -> LiveFeed:
        return self.services.feed

    async def prepare(self) -> None:
        guard = self.services.guard
        guard.check_host(self.request.host)
        if not self.feed.hub.accepting:
            raise Problem(503, "the server is shutting down", headers={"Retry-After": "1"})
        principal = await authenticate(self, self.services.auth)
        if principal is None:
            raise unauthorized("authentication required", error=None)
        guard.check_rate(guard.per_ip, client_ip(self.request, trusted=guard.trusted_proxies))
        guard.check_rate(guard.per_user, principal.username)
        self.principal = principal

    def set_default_headers(self) -> None:
        """The security headers every response carries, refused upgrades included."""
        set_security_headers(self)

    async def get(self, *args: str, **kwargs: str) -> None:
        self.check_handshake()
        await super().get(*args, **kwargs)

    def check_handshake(self) -> None:
        """Tornado's own handshake checks, as problem+json: Tornado answers them in plain
        text, unlike every other API error."""
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket":
            raise Problem(
                400, 'a WebSocket endpoint: send "Upgrade: websocket"', slug="not-upgrade"
            )
        if "upgrade" not in {
            part.strip().lower() for part in headers.get("Connection", "").split(",")
        }:
            raise Problem(400, '"Connection" must include "Upgrade"', slug="not-upgrade")
        if headers.get("Sec-WebSocket-Version") not in ("7", "8", "13"):
            raise Problem(
                426,
                "WebSocket protocol version 13 is required",
                slug="websocket-version",
                headers={"Sec-WebSocket-Version": "13"},
            )
        if not headers.get("Sec-WebSocket-Key"):
            raise Problem(400, "the Sec-WebSocket-Key header is missing", slug="not-upgrade")
        origin = headers.get("Origin", headers.get("Sec-Websocket-Origin"))
        if origin is not None and not self.check_origin(origin):
            raise Problem(
                403, f"WebSocket connections from {origin[:100]!r} are not allowed", slug="origin"
            )

    def check_origin(self, origin: str) -> bool:
        allowed = self.services.settings.allowed_origins
        if allowed:
            return origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in allowed}
        try:
            return urlsplit(origin).netloc.lower() == self.request.host.lower()
        except ValueError:  # not a URL at all, e.g. "http://[" (an unclosed IPv6 literal)
            return False

    def open(self, *args: str, **kwargs: str) -> None:
        assert self.principal is not None
        websocket_opened()
        self.subscription = Subscription(
            principal=self.principal,
            queue=asyncio.Queue(maxsize=self.feed.queue_size),
            close=self.close,
        )
        self.feed.hub.add(self.subscription)
        loop = asyncio.get_running_loop()
        self._writer = loop.create_task(self._write_queued())
        self._standing = loop.create_task(self._end_when_revoked())

    async def on_message(self, message: str | bytes) -> None:
        # One trace per message, linked to the upgrade request; the span counts the message.
        with websocket_message_span(self.route, direction="in"):
            await self._handle(message)

    async def _handle(self, message: str | bytes) -> None:
        try:
            request = parse_client_message(message)
        except (InvalidMessage, RecursionError) as error:
            # RecursionError: JSON nested deeper than the decoder recurses.
            reason = str(error) if isinstance(error, InvalidMessage) else "nested too deeply"
            self.invalid_messages += 1
            if self.invalid_messages >= self.services.settings.ws_max_invalid_messages:
                self.close(POLICY_VIOLATION, "too many invalid messages")
                return
            await self.send(error_frame(reason))
            return
        if request["type"] == "ping":
            await self.send(dumps({"type": "pong"}))
            return
        await self._subscribe(request)

    async def _subscribe(self, request: dict[str, Any]) -> None:
        """Hand the request to the writer, the only task that sends queued or replayed
        frames, so a replay and live frames can never interleave out of order."""
        subscription = self.subscription
        assert subscription is not None
        self._pending = request
        with contextlib.suppress(asyncio.QueueFull):
            subscription.queue.put_nowait(WAKE)  # a full queue: the writer is busy anyway

    async def send(self, frame: str) -> None:
        await self.write_message(frame)
        websocket_message("out")

    async def _send_or_drop(self, frame: str) -> None:
        """Send one frame; a socket that accepts none for ``SLOW_SEND_SECONDS`` is a really
        slow consumer, closed with 1013 so it reconnects and resumes."""
        try:
            async with asyncio.timeout(SLOW_SEND_SECONDS):
                await self.send(frame)
        except TimeoutError:
            assert self.subscription is not None
            self.feed.hub.drop(self.subscription, TRY_AGAIN_LATER, "slow consumer")
            raise WebSocketClosedError() from None

    async def _write_queued(self) -> None:
        subscription = self.subscription
        assert subscription is not None
        queue = subscription.queue
        with contextlib.suppress(WebSocketClosedError):
            try:
                while not subscription.closed:
                    if self._pending is not None:
                        request, self._pending = self._pending, None
                        await self._join(request)
                    elif subscription.behind and queue.empty():
                        await self.feed.catch_up(subscription, send=self._send_or_drop)
                    elif frame := await queue.get():
                        await self._send_or_drop(frame)
            except StoreUnavailable:
                self.feed.hub.drop(subscription, TRY_AGAIN_LATER, "live feed cannot read events")

    async def _join(self, request: dict[str, Any]) -> None:
        subscription = self.subscription
        assert subscription is not None
        tags = request.get("tags")
        subscription.tags = frozenset(tags) if tags else None
        resume_from = request.get("resume_from")
        if resume_from is None and (subscription.joined or subscription.behind):
            # Changing the filter keeps the position: send what is queued first, so the
            # ``subscribed`` position is not ahead of a frame the client still gets.
            while not subscription.queue.empty():
                if frame := subscription.queue.get_nowait():
                    await self._send_or_drop(frame)
            seq = subscription.last_seq
        else:
            subscription.joined = False
            while not subscription.queue.empty():
                subscription.queue.get_nowait()
            seq = await self.feed.join(
                subscription, resume_from=resume_from, send=self._send_or_drop
            )
        await self._send_or_drop(subscribed_frame(seq=seq, tags=tags))

    async def _end_when_revoked(self) -> None:
        """A socket outlives the request that authenticated it: re-check its credential
        every staleness window (a cached lookup), and close with 1008 once it is revoked."""
        revocations = self.services.auth.revocations
        assert self.principal is not None
        while True:
            await asyncio.sleep(revocations.staleness_seconds)
            with contextlib.suppress(StoreUnavailable):
                if not await revocations.is_current(self.principal):
                    self.close(POLICY_VIOLATION, "credentials revoked")
                    return

    def on_close(self) -> None:
        websocket_closed()
        if self.subscription is not None:
            self.subscription.closed = True
            self.feed.hub.discard(self.subscription)
        for task in (self._writer, self._standing):
            if task is not None:
                task.cancel()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Refused upgrades are answered, not stack-traced (as in ``ApiHandler``)."""
        if isinstance(value, HTTPError):
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Refused upgrades answer problem+json like the rest of the API."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        problem = error if isinstance(error, Problem) else problem_for_status(status_code)
        self.set_status(problem.status_code)
        for name, value in problem.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", f"{PROBLEM_JSON}; charset=UTF-8")
        self.finish(json.dumps(problem.body(instance=self.request.path)))
