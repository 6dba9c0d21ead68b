"""The one place the Tornado ``Application`` is assembled: routes, handlers and settings.

Read this file to see the whole service: every route is named (``reverse_url`` works for each)
and carries its path template for logs, metrics and spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tornado.routing import Rule
from tornado.web import Application, url

from gale_service.db import MongoGateway
from gale_service.executors import Executors
from gale_service.handlers.base import ApiHandler
from gale_service.handlers.export import ItemExportHandler
from gale_service.handlers.health import LivenessHandler, ReadinessHandler, StartupHandler
from gale_service.handlers.items import ItemCollectionHandler, ItemHandler
from gale_service.handlers.metrics import MetricsHandler
from gale_service.handlers.openapi import OpenApiHandler
from gale_service.health import Health
from gale_service.inflight import InFlight
from gale_service.logs import log_request
from gale_service.problems import Problem
from gale_service.settings import Settings
from gale_service.store import ItemStore
from gale_service.telemetry.tracing import ObservedApplication

ID = r"(?P<item_id>[^/]+)"


@dataclass
class Services:
    """Long-lived objects the handlers share, created by the lifecycle at start-up."""

    settings: Settings
    gateway: MongoGateway
    store: ItemStore
    health: Health
    inflight: InFlight
    executors: Executors


class NotFoundHandler(ApiHandler):
    """Unknown paths: a problem+json 404, and one bounded ``route`` label for all of them."""

    def prepare(self) -> None:
        super().prepare()
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

    metrics = [] if services.settings.metrics_port else [metrics_route()]
    return [
        *metrics,
        route("/livez", r"/livez", LivenessHandler, "livez"),
        route("/readyz", r"/readyz", ReadinessHandler, "readyz"),
        route("/startupz", r"/startupz", StartupHandler, "startupz"),
        route("/openapi.json", r"/openapi\.json", OpenApiHandler, "openapi"),
        route("/api/v1/items", r"/api/v1/items", ItemCollectionHandler, "items"),
        route("/api/v1/items/{item_id}", rf"/api/v1/items/{ID}", ItemHandler, "item"),
        route("/api/v1/export/items", r"/api/v1/export/items", ItemExportHandler, "export_items"),
    ]


def metrics_route() -> Rule:
    return url(r"/metrics", MetricsHandler, {"route": "/metrics"}, name="metrics")


def make_metrics_app() -> Application:
    """``/metrics`` alone, for ``GALE_METRICS_PORT``."""
    return Application([metrics_route()], log_function=lambda handler: None)


def make_app(services: Services) -> Application:
    settings = services.settings
    return ObservedApplication(
        routes(services),
        trace_requests=settings.trace_requests,
        debug=settings.debug,
        default_handler_class=NotFoundHandler,
        default_handler_args={"route": "unmatched", "inflight": services.inflight},
        compress_response=True,
        log_function=log_request,
        xsrf_cookies=False,
        gale=settings,
        services=services,
    )
