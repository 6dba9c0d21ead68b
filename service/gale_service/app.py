"""The one place the Tornado ``Application`` is assembled: the platform's endpoints, the
registered resources' slices, and settings.

Read this file to see the whole service. Every route comes from one
:class:`~gale_service.endpoints.Endpoint` declaration: it is named (``reverse_url`` works for
each), carries its path template for logs, metrics and spans, and feeds the OpenAPI document,
the guard's exemptions and tracing's unobserved routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import tornado.locale
from tornado.web import Application, UIModule

from gale_service.auth.sessions import cookie_options, xsrf_cookie_name
from gale_service.compression import Compression
from gale_service.endpoints import Endpoint, check_unique, documented, unobserved_routes
from gale_service.handlers.base import ApiHandler
from gale_service.handlers.openapi import ApiDocument, OpenApiHandler
from gale_service.handlers.static import StaticFiles
from gale_service.logs import log_request
from gale_service.platform_endpoints import OPENAPI_OPERATION, PLATFORM, metrics_endpoint
from gale_service.problems import Problem
from gale_service.resources.items.declaration import ITEMS
from gale_service.resources.slice import Slice
from gale_service.services import ServiceApplication, Services

PACKAGE = Path(__file__).parent
#: The resources this service serves: add yours here (one package, one line).
SLICES: tuple[Slice, ...] = (ITEMS,)
TITLE = "Gale items API"


class NotFoundHandler(ApiHandler):
    """Unknown paths: a problem+json 404, and one bounded ``route`` label for all of them."""

    async def prepare(self) -> None:
        await super().prepare()
        raise Problem(404, f"no route for {self.request.path}", slug="no-route")


def endpoints(services: Services, slices: Sequence[Slice]) -> tuple[Endpoint, ...]:
    """Every endpoint served on the main port, ``/openapi.json`` describing them all."""
    metrics = () if services.settings.metrics_port else (metrics_endpoint(services.guard.hosts),)
    served = (*metrics, *PLATFORM, *(endpoint for s in slices for endpoint in s.endpoints))
    document = ApiDocument([*documented(served), ("/openapi.json", OPENAPI_OPERATION)], title=TITLE)
    openapi = Endpoint(
        "/openapi.json",
        OpenApiHandler,
        "openapi",
        (OPENAPI_OPERATION,),
        kwargs={"document": document},
    )
    every = (*served, openapi)
    check_unique(every)
    missing = [s.resource.name for s in slices if s.resource.name not in services.stores]
    if missing:
        raise ValueError(f"no store for {missing}: create the services for the same slices")
    return every


def make_metrics_app(services: Services) -> Application:
    """``/metrics`` alone, for ``GALE_METRICS_PORT``: the same headers and Host check."""
    return Application(
        [metrics_endpoint(services.guard.hosts).rule()], log_function=lambda handler: None
    )


def make_app(services: Services, slices: Sequence[Slice] = SLICES) -> ServiceApplication:
    settings = services.settings
    served = endpoints(services, slices)
    ui_modules: dict[str, type[UIModule]] = {}
    for registered in slices:
        ui_modules.update(registered.ui_modules)
    # English is the source language; German comes from locale/de_DE.csv.
    tornado.locale.load_translations(str(PACKAGE / "locale"))
    tornado.locale.set_default_locale("en_US")
    return ServiceApplication(
        [endpoint.rule() for endpoint in served],
        services=services,
        unobserved=unobserved_routes(served),
        trace_requests=settings.trace_requests,
        debug=settings.debug,
        default_handler_class=NotFoundHandler,
        default_handler_args={"route": "unmatched"},
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
        ui_modules=ui_modules,
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
    )
