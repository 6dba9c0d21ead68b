"""The service's Prometheus metrics: every name and label that dashboards and rules read.

Names follow the OpenTelemetry semantic conventions as Prometheus spells them
(``http.server.request.duration`` → ``http_server_request_duration_seconds``). They live in a
registry of their own, so ``/metrics`` shows exactly these and nothing a library registered
globally. Label values are bounded: routes are templates (unknown paths are ``unmatched``),
methods outside the standard set are ``_OTHER``, statuses are classes.

Other modules record through the small functions below rather than touching the objects, so
the label vocabulary stays in this one file.
"""

from __future__ import annotations

import platform
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

#: Bucket boundaries the OTel HTTP semantic conventions recommend for request durations.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
UNMATCHED_ROUTE = "unmatched"
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)
REJECTION_REASONS = ("rate_limited", "shed")
DIRECTIONS = ("in", "out")

REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests, by method, route template and status class.",
    ["http_request_method", "http_route", "http_response_status_class"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
ACTIVE_REQUESTS = Gauge(
    "http_server_active_requests",
    "HTTP requests being served right now.",
    registry=REGISTRY,
)
DB_OPERATION_DURATION = Histogram(
    "db_client_operation_duration_seconds",
    "Duration of MongoDB commands, by operation and collection.",
    ["db_operation_name", "db_collection_name"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10),
    registry=REGISTRY,
)
DB_CONNECTIONS = Gauge(
    "db_client_connection_count",
    "MongoDB pool connections by state (used: checked out; idle: in the pool).",
    ["state"],
    registry=REGISTRY,
)
DB_CONNECTIONS_MAX = Gauge(
    "db_client_connection_max",
    "Largest number of MongoDB connections the pools may open.",
    registry=REGISTRY,
)
EVENT_LOOP_LAG = Gauge(
    "gale_event_loop_lag_seconds",
    "How late the event loop ran a timer at its last check: a blocked loop shows here first.",
    registry=REGISTRY,
)
WEBSOCKET_CONNECTIONS = Gauge(
    "gale_websocket_connections",
    "Open WebSocket connections.",
    registry=REGISTRY,
)
WEBSOCKET_MESSAGES = Counter(
    "gale_websocket_messages",
    "WebSocket messages by direction (in: received, out: sent).",
    ["direction"],
    registry=REGISTRY,
)
REJECTED_REQUESTS = Counter(
    "gale_rejected_requests",
    "Requests refused before reaching a handler, by reason (rate_limited, shed).",
    ["reason"],
    registry=REGISTRY,
)
READY = Gauge(
    "gale_ready",
    "1 while /readyz answers 200, else 0.",
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "gale_build_info",
    "Always 1; the labels say what is running.",
    ["version", "python_version", "driver"],
    registry=REGISTRY,
)

for _state in ("used", "idle"):
    DB_CONNECTIONS.labels(state=_state)
for _reason in REJECTION_REASONS:
    REJECTED_REQUESTS.labels(reason=_reason)
for _direction in DIRECTIONS:
    WEBSOCKET_MESSAGES.labels(direction=_direction)


def method_label(method: str | None) -> str:
    """The method as a bounded label: anything non-standard is ``_OTHER`` (semconv)."""
    upper = (method or "").upper()
    return upper if upper in KNOWN_METHODS else "_OTHER"


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


#: Label children by their values: ``labels()`` validates and hashes its arguments on every
#: call, and these two are recorded on every request. Both sets are bounded (route templates,
#: status classes, command and collection names), so the dicts are too.
_REQUEST_CHILDREN: dict[tuple[str | None, str, int], Histogram] = {}
_REQUEST_BY_LABELS: dict[tuple[str, str, str], Histogram] = {}
_DB_CHILDREN: dict[tuple[str, str], Histogram] = {}


def observe_request(*, method: str | None, route: str, status: int, seconds: float) -> None:
    raw = (method, route, status)
    child = _REQUEST_CHILDREN.get(raw)
    if child is None:
        key = (method_label(method), route or UNMATCHED_ROUTE, status_class(status))
        child = _REQUEST_BY_LABELS.get(key) or REQUEST_DURATION.labels(*key)
        _REQUEST_BY_LABELS[key] = child
        # Keyed by the raw values too, so labels are derived once per request shape; only
        # for bounded ones (a standard method, a real status), as a client picks the method.
        if method in KNOWN_METHODS and 100 <= status <= 599:
            _REQUEST_CHILDREN[raw] = child
    child.observe(seconds)


def observe_db_operation(*, operation: str, collection: str, seconds: float) -> None:
    key = (operation, collection)
    child = _DB_CHILDREN.get(key)
    if child is None:
        child = _DB_CHILDREN[key] = DB_OPERATION_DURATION.labels(*key)
    child.observe(seconds)


def record_rejection(reason: str) -> None:
    """A request refused by rate limiting (``rate_limited``) or load shedding (``shed``)."""
    if reason not in REJECTION_REASONS:
        raise ValueError(f"unknown rejection reason {reason!r}; one of {REJECTION_REASONS}")
    REJECTED_REQUESTS.labels(reason=reason).inc()


def websocket_opened() -> None:
    WEBSOCKET_CONNECTIONS.inc()


def websocket_closed() -> None:
    WEBSOCKET_CONNECTIONS.dec()


def websocket_message(direction: str) -> None:
    """One WebSocket message ``in`` (received) or ``out`` (sent)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; one of {DIRECTIONS}")
    WEBSOCKET_MESSAGES.labels(direction=direction).inc()


def track_in_flight(count: Callable[[], float]) -> None:
    """Read the in-flight count at scrape time: nothing to update on the request path."""
    ACTIVE_REQUESTS.set_function(count)


def track_readiness(ready: Callable[[], bool]) -> None:
    READY.set_function(lambda: 1.0 if ready() else 0.0)


def set_build_info(*, version: str, driver: str) -> None:
    BUILD_INFO.clear()
    BUILD_INFO.labels(version=version, python_version=platform.python_version(), driver=driver).set(
        1
    )


def exposition() -> tuple[bytes, str]:
    """The registry in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


__all__ = [
    "ACTIVE_REQUESTS",
    "BUILD_INFO",
    "DB_CONNECTIONS",
    "DB_CONNECTIONS_MAX",
    "DB_OPERATION_DURATION",
    "DURATION_BUCKETS",
    "EVENT_LOOP_LAG",
    "READY",
    "REGISTRY",
    "REJECTED_REQUESTS",
    "REQUEST_DURATION",
    "UNMATCHED_ROUTE",
    "WEBSOCKET_CONNECTIONS",
    "WEBSOCKET_MESSAGES",
    "exposition",
    "method_label",
    "observe_db_operation",
    "observe_request",
    "record_rejection",
    "set_build_info",
    "status_class",
    "track_in_flight",
    "track_readiness",
    "websocket_closed",
    "websocket_message",
    "websocket_opened",
]
