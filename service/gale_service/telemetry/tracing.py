"""One server span per HTTP request, written against the OpenTelemetry API.

The stock ``opentelemetry-instrumentation-tornado`` wraps several ``RequestHandler`` methods
per request and ends its span in ``on_finish``, before Tornado logs an uncaught exception; on
a small machine it halves throughput even with sampling off (``make bench`` measures it).
This path does the least that keeps the HTTP semantic conventions:

- `ObservedApplication.get_handler_delegate` starts the span when the request has arrived
  (its start time is the request's arrival) and makes it current only while Tornado creates
  the handler's task. The task copies the context, so everything the handler does, DB spans
  and log lines included, sees the span; nothing leaks into the connection's own context.
- `ObservedApplication.log_request` (Tornado calls it from ``finish``) records the duration
  histogram, writes the access line, then ends the span. When a handler raised, this runs
  inside Tornado's ``except`` block, so the exception is still at hand for the span.

Probes and ``/metrics`` are neither traced nor counted: a draining pod's 503 on ``/readyz``
must not count against the error budget.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from tornado import httputil
from tornado.web import Application, RequestHandler

from gale_service.logs import request_context
from gale_service.redaction import scrub_query
from gale_service.telemetry import metrics

TRACER = trace.get_tracer("gale_service")


class ObservedRequest:
    """The telemetry of one request: its span, the context it runs in, its route."""

    __slots__ = ("context", "log_fields", "method", "request", "route", "span")

    def __init__(self, request: httputil.HTTPServerRequest, *, route: str, traced: bool) -> None:
        self.request = request
        self.route = route
        self.method = metrics.method_label(request.method)
        self.span: Span | None = None
        self.context: otel_context.Context | None = None
        #: ``trace_id``/``span_id`` for every log line of this request.
        self.log_fields: dict[str, str] | None = None
        if traced:
            self._start_span()

    def _start_span(self) -> None:
        request = self.request
        parent = propagate.extract(request.headers)
        matched = self.route != metrics.UNMATCHED_ROUTE
        attributes: dict[str, Any] = {
            "http.request.method": self.method,
            "url.scheme": request.protocol,
            "url.path": request.path,
        }
        if matched:
            attributes["http.route"] = self.route
        span = TRACER.start_span(
            f"{self.method} {self.route}" if matched else self.method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=int(request._start_time * 1e9),
        )
        if span.is_recording():
            _describe_request(span, request)
        self.span = span
        self.context = trace.set_span_in_context(span, parent)
        span_context = span.get_span_context()
        if span_context.is_valid:
            self.log_fields = {
                "trace_id": format(span_context.trace_id, "032x"),
                "span_id": format(span_context.span_id, "016x"),
            }

    def finish(self, status: int, *, error: BaseException | None = None) -> None:
        metrics.observe_request(
            method=self.method, route=self.route, status=status, seconds=self.elapsed()
        )
        span, self.span = self.span, None
        if span is None:
            return
        if span.is_recording():
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_attribute("error.type", type(error).__qualname__ if error else str(status))
                if error is not None:
                    span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR))
        span.end()

    def elapsed(self) -> float:
        return self.request.request_time()


def _describe_request(span: Span, request: httputil.HTTPServerRequest) -> None:
    """Attributes only a sampled span needs: computed after the sampling decision, and set in
    one call (one lock taken by the SDK's span, not one per attribute)."""
    host, port = httputil.split_host_and_port(request.host)
    attributes: dict[str, Any] = {"server.address": host}
    if port is not None:
        attributes["server.port"] = port
    attributes["network.protocol.version"] = request.version.removeprefix("HTTP/")
    if request.remote_ip:
        attributes["client.address"] = request.remote_ip
    if request.query:
        attributes["url.query"] = scrub_query(request.query)
    agent = request.headers.get("User-Agent")
    if agent:
        attributes["user_agent.original"] = agent
    span.set_attributes(attributes)


def outgoing_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """``headers`` plus ``traceparent``/``tracestate``/``baggage`` of the current context:
    pass them on every outgoing HTTP call so the callee continues this trace."""
    carrier = dict(headers or {})
    propagate.inject(carrier)
    return carrier


@contextmanager
def websocket_message_span(route: str, *, direction: str) -> Iterator[Span]:
    """Count one WebSocket message and trace its handling (``in``) or sending (``out``).

    Each message is a trace of its own, linked to the upgrade request's span: a connection
    lives for hours, and one trace holding all its messages would be unreadable. Log lines
    written inside carry the message's trace.
    """
    metrics.websocket_message(direction)
    upgrade = trace.get_current_span().get_span_context()
    operation = "receive" if direction == "in" else "send"
    with TRACER.start_as_current_span(
        f"{operation} {route}",
        context=otel_context.Context(),
        kind=SpanKind.CONSUMER if direction == "in" else SpanKind.PRODUCER,
        links=[trace.Link(upgrade)] if upgrade.is_valid else None,
        attributes={
            "network.protocol.name": "websocket",
            "messaging.operation.type": operation,
            "messaging.destination.name": route,
        },
    ) as span:
        span_context = span.get_span_context()
        token = (
            request_context.set(
                {
                    "trace_id": format(span_context.trace_id, "032x"),
                    "span_id": format(span_context.span_id, "016x"),
                }
            )
            if span_context.is_valid
            else None
        )
        try:
            yield span
        finally:
            if token is not None:
                request_context.reset(token)


_current: ContextVar[ObservedRequest | None] = ContextVar("gale_observed_request", default=None)


class _ObservedDelegate(httputil.HTTPMessageDelegate):
    """Runs Tornado's own delegate with the request's span current while it creates the
    handler's task, so that task (and only it) inherits the span and the log fields."""

    def __init__(
        self, inner: httputil.HTTPMessageDelegate, observed: ObservedRequest, *, streams: bool
    ) -> None:
        self._inner = inner
        self._observed = observed
        #: A ``@stream_request_body`` handler starts in ``headers_received``; any other in
        #: ``finish``, and only that call needs the request's context.
        self._streams = streams

    def _run_in_context(self, call: Any, *args: Any) -> Any:
        observed = self._observed
        token = _current.set(observed)
        fields = observed.log_fields
        log_token = request_context.set(fields) if fields else None
        otel_token = otel_context.attach(observed.context) if observed.context else None
        try:
            return call(*args)
        finally:
            if otel_token is not None:
                otel_context.detach(otel_token)
            if log_token is not None:
                request_context.reset(log_token)
            _current.reset(token)

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        if not self._streams:
            return self._inner.headers_received(start_line, headers)
        result: Awaitable[None] | None = self._run_in_context(
            self._inner.headers_received, start_line, headers
        )
        return result

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._inner.data_received(chunk)

    def finish(self) -> None:
        self._run_in_context(self._inner.finish)

    def on_connection_close(self) -> None:
        """The client left before sending the whole request: no handler ran, end the span."""
        self._inner.on_connection_close()
        span = self._observed.span
        if span is not None:
            span.set_attribute("error.type", "connection_closed")
            span.end()
            self._observed.span = None


class ObservedApplication(Application):
    """Tornado's ``Application`` with a span and metrics for every request.

    ``trace_requests=False`` (``GALE_TRACE_REQUESTS``) turns the spans off, e.g. when an
    external instrumentation is used instead; metrics and log fields of that span stay.
    ``unobserved``: route templates neither traced nor counted (the endpoints declare them).
    """

    def __init__(
        self,
        *args: Any,
        trace_requests: bool = True,
        unobserved: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.trace_requests = trace_requests
        self.unobserved = unobserved

    def get_handler_delegate(
        self,
        request: httputil.HTTPServerRequest,
        target_class: type[RequestHandler],
        target_kwargs: dict[str, Any] | None = None,
        path_args: list[bytes] | None = None,
        path_kwargs: dict[str, bytes] | None = None,
    ) -> Any:
        route = (target_kwargs or {}).get("route", metrics.UNMATCHED_ROUTE)
        if route in self.unobserved:
            direct = self.direct_delegate(request, target_class, route)
            if direct is not None:
                return direct
            return super().get_handler_delegate(
                request, target_class, target_kwargs, path_args, path_kwargs
            )
        inner = super().get_handler_delegate(
            request, target_class, target_kwargs, path_args, path_kwargs
        )
        observed = ObservedRequest(request, route=route, traced=self.trace_requests)
        # Tornado's @stream_request_body marker (RequestHandler._stream_request_body).
        streams = bool(getattr(target_class, "_stream_request_body", False))
        return _ObservedDelegate(inner, observed, streams=streams)

    def direct_delegate(
        self, request: httputil.HTTPServerRequest, target_class: type[RequestHandler], route: str
    ) -> httputil.HTTPMessageDelegate | None:
        """A delegate answering a request on an ``unobserved`` route without creating its
        handler, or ``None`` for Tornado's own (always, here; nothing records either)."""
        return None

    def log_request(self, handler: RequestHandler) -> None:
        observed = _current.get()
        super().log_request(handler)
        if observed is not None and observed.request is handler.request:
            observed.finish(handler.get_status(), error=sys.exc_info()[1])


__all__ = [
    "TRACER",
    "ObservedApplication",
    "ObservedRequest",
    "outgoing_headers",
    "websocket_message_span",
]
