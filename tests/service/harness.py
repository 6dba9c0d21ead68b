"""Run the real service in-process on a free loopback port, against a real SecantusDB."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from gale_service.app import SLICES
from gale_service.auth.principal import Principal
from gale_service.auth.tokens import issue_token
from gale_service.resources.slice import Slice
from gale_service.server import RunningService, create_services, drain_then_stop, start
from gale_service.services import Services
from gale_service.settings import Settings
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.netutil import bind_sockets

FAST_SHUTDOWN = {"drain_seconds": 0.0, "shutdown_timeout_seconds": 2.0}
#: Secrets and cheap argon2 parameters for tests; rate limits out of the way unless a test
#: sets its own. ``ADMIN`` is bootstrapped with ``ADMIN_PASSWORD``.
ADMIN = "admin"
ADMIN_PASSWORD = "correct horse battery staple"
TEST_AUTH = {
    "jwt_keys": "test-2:" + "k" * 40 + " test-1:" + "o" * 40,
    "cookie_secrets": "2:" + "c" * 40 + " 1:" + "d" * 40,
    "admin_username": ADMIN,
    "admin_password": ADMIN_PASSWORD,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "argon2_parallelism": 1,
    "rate_limit_ip_burst": 1_000_000,
    "rate_limit_user_burst": 1_000_000,
    "rate_limit_login_burst": 1_000_000,
    "live_poll_interval_seconds": 0.1,
}


#: Timeouts short enough that a test of an outage answers quickly.
FAST_FAILING = {
    "mongodb_server_selection_timeout_ms": 500,
    "mongodb_connect_timeout_ms": 500,
    "mongodb_timeout_ms": 2_000,
}


@dataclass
class LiveService:
    """A started service and an HTTP client pointed at it."""

    base_url: str
    running: RunningService
    client: AsyncHTTPClient
    #: Sent as ``Authorization: Bearer`` by :meth:`fetch` unless ``auth=False``: the
    #: bootstrapped admin's, so tests that are not about auth see and change every item.
    token: str | None = None

    def token_for(self, username: str, *, is_admin: bool = False) -> str:
        """A valid bearer token for any user (tokens are stateless; no user doc needed)."""
        principal = Principal(username=username, is_admin=is_admin)
        return issue_token(principal, policy=self.services.auth.tokens)

    @property
    def services(self) -> Services:
        return self.running.services

    async def fetch(
        self,
        path: str,
        *,
        method: str = "GET",
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        **kwargs: Any,
    ) -> HTTPResponse:
        all_headers = dict(headers or {})
        if auth and self.token and "Authorization" not in all_headers:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            body = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        if body is None and method in {"POST", "PUT", "PATCH"}:
            body = b""
        return await self.client.fetch(
            self.base_url + path,
            method=method,
            body=body,
            headers=all_headers,
            raise_error=False,
            allow_nonstandard_methods=True,
            **kwargs,
        )

    async def request_token(
        self, username: str, password: str, *, headers: Mapping[str, str] | None = None
    ) -> HTTPResponse:
        """The password grant, ``POST /api/v1/auth/token``, sent without any credential."""
        return await self.fetch(
            "/api/v1/auth/token",
            method="POST",
            json_body={"username": username, "password": password},
            headers=headers,
            auth=False,
        )


def settings_for_test(**overrides: Any) -> Settings:
    """Settings for an in-process service: a fresh database name per test isolates data."""
    values: dict[str, Any] = {
        "mongodb_database": f"t_{uuid.uuid4().hex[:16]}",
        "secret_key": "x" * 48,
        **TEST_AUTH,
        **FAST_SHUTDOWN,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def live_service(
    mongodb_uri: str,
    *,
    driver: str = "pymongo",
    wait_started: bool = True,
    slices: Sequence[Slice] = SLICES,
    **overrides: Any,
) -> AsyncIterator[LiveService]:
    """``slices``: the resources served (the shipped ones unless a test registers its own)."""
    settings = settings_for_test(mongo_driver=driver, **overrides)
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    services = create_services(settings, mongodb_uri=mongodb_uri, slices=slices)
    running = start(services, sockets, slices=slices)
    client = AsyncHTTPClient(force_instance=True)
    live = LiveService(base_url=f"http://127.0.0.1:{port}", running=running, client=client)
    live.token = live.token_for(ADMIN, is_admin=True)
    try:
        if wait_started:
            await running.migrations
        yield live
    finally:
        client.close()
        await drain_then_stop(running)
