"""MongoDB client spans and metrics from the driver's own monitoring events.

PyMongo's command and connection-pool listeners fire for both drivers (Motor runs PyMongo
underneath and copies the caller's context into its worker threads), so one listener pair
gives the DB spans, the operation-duration histogram and the pool gauges without wrapping a
single call. Spans follow the database semantic conventions: ``db.system.name=mongodb``,
``db.namespace``, ``db.collection.name``, ``db.operation.name``, named
``{operation} {collection}``.

A DB span is only made inside a sampled request span: the health monitor pings several times
a second, and a trace per ping would be noise that costs money.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pymongo import monitoring

from gale_service.telemetry import metrics

TRACER = trace.get_tracer("gale_service.db")
#: Commands whose collection is not the command's own value.
_COLLECTION_FIELD = {"getMore": "collection"}


def _collection(command_name: str, command: Any) -> str:
    value = command.get(_COLLECTION_FIELD.get(command_name, command_name))
    return value if isinstance(value, str) else ""


class CommandTelemetry(monitoring.CommandListener):
    """One client span (when inside a sampled request) and one duration sample per command."""

    def __init__(self) -> None:
        self._pending: dict[tuple[Any, int], tuple[str, Span | None]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = _collection(event.command_name, event.command)
        span: Span | None = None
        if trace.get_current_span().is_recording():
            span = self._start_span(event, collection)
        self._pending[(event.connection_id, event.request_id)] = (collection, span)

    def _start_span(self, event: monitoring.CommandStartedEvent, collection: str) -> Span:
        operation = event.command_name
        attributes: dict[str, Any] = {
            "db.system.name": "mongodb",
            "db.namespace": event.database_name,
            "db.operation.name": operation,
        }
        if collection:
            attributes["db.collection.name"] = collection
        host, port = event.connection_id[0], event.connection_id[1]
        if host:
            attributes["server.address"] = host
            attributes["server.port"] = port
        target = collection or event.database_name
        return TRACER.start_span(
            f"{operation} {target}", kind=SpanKind.CLIENT, attributes=attributes
        )

    def _finish(self, event: Any) -> tuple[str, Span | None]:
        collection, span = self._pending.pop((event.connection_id, event.request_id), ("", None))
        metrics.observe_db_operation(
            operation=event.command_name,
            collection=collection,
            seconds=event.duration_micros / 1e6,
        )
        return collection, span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        _, span = self._finish(event)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        _, span = self._finish(event)
        if span is None:
            return
        failure = event.failure
        code = failure.get("code") if isinstance(failure, dict) else None
        if code is not None:
            span.set_attribute("db.response.status_code", str(code))
        name = failure.get("codeName") if isinstance(failure, dict) else None
        span.set_attribute("error.type", str(name or code or "mongodb_error"))
        span.set_status(Status(StatusCode.ERROR, str(failure.get("errmsg", ""))[:200]))
        span.end()


class PoolTelemetry(monitoring.ConnectionPoolListener):
    """``db_client_connection_count{state}`` and ``db_client_connection_max`` from pool events.

    Gauges move by deltas, so several clients in one process (tests) add up instead of
    overwriting each other, and a closed pool takes its share away again.
    """

    def __init__(self) -> None:
        self._max_by_pool: dict[Any, int] = {}
        # Two gauge moves per checkout and checkin: look the children up once.
        self._idle = metrics.DB_CONNECTIONS.labels(state="idle")
        self._used = metrics.DB_CONNECTIONS.labels(state="used")

    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None:
        size = int(event.options.get("maxPoolSize", 100) or 0)
        self._max_by_pool[event.address] = size
        metrics.DB_CONNECTIONS_MAX.inc(size)

    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None:
        metrics.DB_CONNECTIONS_MAX.dec(self._max_by_pool.pop(event.address, 0))

    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None:
        """Nothing to count: connections are counted as they are created."""

    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None:
        """Cleared connections each report ``connection_closed``."""

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        self._idle.inc()

    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None:
        """Counted at creation."""

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        self._idle.dec()

    def connection_check_out_started(
        self, event: monitoring.ConnectionCheckOutStartedEvent
    ) -> None:
        """Waiting for a connection is visible as DB operation latency."""

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None:
        """Surfaces as a failed command or a DatabaseUnavailable answer."""

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        self._idle.dec()
        self._used.inc()

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        self._used.dec()
        self._idle.inc()


def db_listeners() -> list[monitoring._EventListener]:
    """The listeners to pass to ``connect(..., event_listeners=...)``, fresh per client."""
    return [CommandTelemetry(), PoolTelemetry()]


__all__ = ["CommandTelemetry", "PoolTelemetry", "db_listeners"]
