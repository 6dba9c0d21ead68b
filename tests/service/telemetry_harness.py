"""What the telemetry tests share: an in-memory span exporter, log capture, and test routes
added to a live service's own Application (same wiring, handlers that exist only here)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from gale_service.logs import JsonFormatter
from gale_service.telemetry import spans
from gale_service.telemetry.tracing import outgoing_headers, websocket_message_span
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo.errors import OperationFailure
from tornado.web import Application, RequestHandler, stream_request_body, url
from tornado.websocket import WebSocketHandler

from tests.service.harness import LiveService

ROUND_TRIP_ROUTE = "/test/round-trip/{name}"
FAILING_ROUTE = "/test/failing"
SOCKET_ROUTE = "/test/ws"
STREAMING_ROUTE = "/test/streaming"


@cache
def span_exporter() -> InMemorySpanExporter:
    """One provider per test process (OpenTelemetry allows setting it only once): Gale's, as
    ``configure_tracing`` installs it."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = spans.TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def finished_spans() -> list[ReadableSpan]:
    return list(span_exporter().get_finished_spans())


class RoundTripHandler(RequestHandler):
    """Writes an item through the real store and reads it back: a transaction and a find."""

    def initialize(self, route: str, store: Any) -> None:
        self.route = route
        self.store = store

    async def get(self, name: str) -> None:
        created = await self.store.create({"name": name}, owner="telemetry-test")
        item = await self.store.get(created["id"])
        self.finish({"id": item["id"], "outgoing": outgoing_headers()})


class FailingHandler(RoundTripHandler):
    """Reads from the database, then fails the way a bug would."""

    async def get(self) -> None:  # type: ignore[override]
        await self.store.list(limit=1)
        raise RuntimeError("telemetry test failure")


class UnknownCommandHandler(RequestHandler):
    """Sends the database a command it does not know: a failed command, answered 200."""

    def initialize(self, route: str, gateway: Any) -> None:
        self.route = route
        self.gateway = gateway

    async def get(self) -> None:
        try:
            await self.gateway.database.command({"galeNoSuchCommand": 1})
        except OperationFailure as error:
            self.finish({"code": error.code})


@stream_request_body
class StreamingHandler(RequestHandler):
    """Reads its body as it arrives: it starts while the request's headers are handled, and
    reports the trace it sees from there and from its last step."""

    def initialize(self, route: str) -> None:
        self.route = route

    def check_xsrf_cookie(self) -> None:
        """No cookies here: the test posts without a browser's XSRF token."""

    def prepare(self) -> None:
        self.received = 0
        self.trace_in_prepare = format(trace.get_current_span().get_span_context().trace_id, "032x")

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)

    def post(self) -> None:
        current = format(trace.get_current_span().get_span_context().trace_id, "032x")
        self.finish({"bytes": self.received, "prepare": self.trace_in_prepare, "post": current})


class EchoSocket(WebSocketHandler):
    """Echoes each message after a DB read, traced the way the service's sockets are."""

    def initialize(self, route: str, store: Any) -> None:
        self.route = route
        self.store = store

    async def on_message(self, message: str | bytes) -> None:
        with websocket_message_span(self.route, direction="in"):
            await self.store.list(limit=1)
            logging.getLogger("tests.echo").info("echoing")
            with websocket_message_span(self.route, direction="out"):
                await self.write_message(message)


def application(live: LiveService) -> Application:
    """The live service's Application, under any connection-level wrappers."""
    target: Any = live.running.server.request_callback
    while not isinstance(target, Application):
        target = target.application
    return target


def add_test_routes(live: LiveService) -> None:
    store = live.services.stores["items"]
    application(live).add_handlers(
        r".*$",
        [
            url(
                r"/test/round-trip/(?P<name>[^/]+)",
                RoundTripHandler,
                {"route": ROUND_TRIP_ROUTE, "store": store},
            ),
            url(r"/test/failing", FailingHandler, {"route": FAILING_ROUTE, "store": store}),
            url(r"/test/ws", EchoSocket, {"route": SOCKET_ROUTE, "store": store}),
            url(r"/test/streaming", StreamingHandler, {"route": STREAMING_ROUTE}),
            url(
                r"/test/unknown-command",
                UnknownCommandHandler,
                {"route": "/test/unknown-command", "gateway": live.services.gateway},
            ),
        ],
    )


@contextmanager
def json_log_lines() -> Iterator[list[dict[str, Any]]]:
    """Every log line written meanwhile, as the production JSON formatter renders it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        lines.extend(json.loads(line) for line in buffer.getvalue().splitlines() if line)
