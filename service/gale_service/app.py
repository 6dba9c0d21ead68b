"""The one place the Tornado ``Application`` is assembled: routes, handlers and settings.

Read this file to see the whole service: every route is named (``reverse_url`` works for each)
and carries its path template for logs, metrics and spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.locale
from tornado.routing import Rule
from tornado.web import Application, url

from gale_service.auth.authenticator import Authenticator
from gale_service.auth.sessions import cookie_options, xsrf_cookie_name
from gale_service.compression import Compression
from gale_service.db import MongoGateway
from gale_service.executors import Executors
from gale_service.handlers.auth import (
    MeHandler,
    PasswordHandler,
    TokenHandler,
    UserCollectionHandler,
    UserSessionsHandler,
)
from gale_service.handlers.base import ApiHandler
from gale_service.handlers.export import ItemExportHandler
from gale_service.handlers.health import LivenessHandler, ReadinessHandler, StartupHandler
from gale_service.handlers.imports import ItemImportHandler
from gale_service.handlers.items import ItemCollectionHandler, ItemHandler
from gale_service.handlers.metrics import MetricsHandler
from gale_service.handlers.openapi import OpenApiHandler
from gale_service.handlers.pages import IndexPage, ItemPage, LanguagePage, LoginPage, LogoutPage
from gale_service.handlers.static import StaticFiles
from gale_service.handlers.ui_modules import ItemRow
from gale_service.handlers.ws import LiveSocketHandler
from gale_service.health import Health
from gale_service.inflight import InFlight
from gale_service.live.feed import LiveFeed
from gale_service.logs import log_request
from gale_service.problems import Problem
from gale_service.security.guard import Guard
from gale_service.security.hosts import HostAllowList
from gale_service.settings import Settings
from gale_service.store import ItemStore
from gale_service.telemetry.tracing import ObservedApplication

ID = r"(?P<item_id>[^/]+)"
PACKAGE = Path(__file__).parent


@dataclass
class Services:
    """Long-lived objects the handlers share, created by the lifecycle at start-up."""

    settings: Settings
    gateway: MongoGateway
    store: ItemStore
    health: Health
    inflight: InFlight
    executors: Executors
    auth: Authenticator
    guard: Guard
    feed: LiveFeed


class NotFoundHandler(ApiHandler):
    """Unknown paths: a problem+json 404, and one bounded ``route`` label for all of them."""

    async def prepare(self) -> None:
        await super().prepare()
        raise Problem(404, f"no route for {self.request.path}", slug="no-route")


def routes(services: Services) -> list[Rule]:
    deps: dict[str, Any] = {
        "store": services.store,
        "health": services.health,
        "inflight": services.inflight,
        "executors": services.executors,
    }

    def route(template: str, pattern: str, handler: type[ApiHandler], name: str) -> Rule:
        return url(pattern, handler, {"route": template, **deps}, name=name)

    metrics = [] if services.settings.metrics_port else [metrics_route(services.guard.hosts)]
    return [
        *metrics,
        route("/livez", r"/livez", LivenessHandler, "livez"),
        route("/readyz", r"/readyz", ReadinessHandler, "readyz"),
        route("/startupz", r"/startupz", StartupHandler, "startupz"),
        route("/openapi.json", r"/openapi\.json", OpenApiHandler, "openapi"),
        route("/api/v1/items", r"/api/v1/items", ItemCollectionHandler, "items"),
        route("/api/v1/items/{item_id}", rf"/api/v1/items/{ID}", ItemHandler, "item"),
        route("/api/v1/export/items", r"/api/v1/export/items", ItemExportHandler, "export_items"),
        route("/api/v1/import/items", r"/api/v1/import/items", ItemImportHandler, "import_items"),
        route("/api/v1/auth/token", r"/api/v1/auth/token", TokenHandler, "auth_token"),
        route("/api/v1/auth/me", r"/api/v1/auth/me", MeHandler, "auth_me"),
        route("/api/v1/auth/password", r"/api/v1/auth/password", PasswordHandler, "password"),
        route("/api/v1/users", r"/api/v1/users", UserCollectionHandler, "users"),
        route(
            "/api/v1/users/{username}/sessions",
            r"/api/v1/users/(?P<username>[^/]+)/sessions",
            UserSessionsHandler,
            "user_sessions",
        ),
        url(r"/api/v1/ws", LiveSocketHandler, {"route": "/api/v1/ws"}, name="ws"),
        route("/", r"/", IndexPage, "home"),
        route("/items/{item_id}", rf"/items/{ID}", ItemPage, "item_page"),
        route("/login", r"/login", LoginPage, "login"),
        route("/logout", r"/logout", LogoutPage, "logout"),
        route("/language", r"/language", LanguagePage, "language"),
    ]


def metrics_route(hosts: HostAllowList) -> Rule:
    return url(r"/metrics", MetricsHandler, {"route": "/metrics", "hosts": hosts}, name="metrics")


def make_metrics_app(services: Services) -> Application:
    """``/metrics`` alone, for ``GALE_METRICS_PORT``: the same headers and Host check."""
    return Application([metrics_route(services.guard.hosts)], log_function=lambda handler: None)


def make_app(services: Services) -> Application:
    settings = services.settings
    # English is the source language; German comes from locale/de_DE.csv.
    tornado.locale.load_translations(str(PACKAGE / "locale"))
    tornado.locale.set_default_locale("en_US")
    return ObservedApplication(
        routes(services),
        trace_requests=settings.trace_requests,
        debug=settings.debug,
        default_handler_class=NotFoundHandler,
        default_handler_args={"route": "unmatched", "inflight": services.inflight},
        # gzip (when accepted) for JSON, NDJSON exports, problem+json and text.
        transforms=[Compression],
        log_function=log_request,
        # Pages: one base layout, autoescaped; compiled templates and static hashes cached
        # outside dev (dev re-reads them on each request and shows template errors).
        template_path=str(PACKAGE / "templates"),
        autoescape="xhtml_escape",
        compiled_template_cache=not settings.is_dev,
        static_hash_cache=not settings.is_dev,
        static_path=str(PACKAGE / "static"),
        static_handler_class=StaticFiles,
        ui_modules={"ItemRow": ItemRow},
        # Sessions and CSRF (see handlers.base.ApiHandler.check_xsrf_cookie for the exemptions).
        cookie_secret=services.auth.cookie_secrets.as_cookie_secrets(),
        key_version=int(services.auth.cookie_secrets.current_id),
        xsrf_cookies=True,
        xsrf_cookie_name=xsrf_cookie_name(secure=services.auth.secure_cookies),
        xsrf_cookie_kwargs=cookie_options(secure=services.auth.secure_cookies),
        # WebSockets: dead peers found within ping interval + timeout; frames bounded.
        websocket_ping_interval=settings.ws_ping_interval_seconds,
        websocket_ping_timeout=settings.ws_ping_timeout_seconds,
        websocket_max_message_size=settings.ws_max_message_bytes,
        gale=settings,
        services=services,
    )
