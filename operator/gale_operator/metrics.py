"""The operator's Prometheus metrics, served on their own port.

A dedicated registry keeps them apart from anything a library registers globally, so the
``/metrics`` page shows exactly what dashboards and alert rules rely on.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

RECONCILES = Counter(
    "gale_operator_reconciles_total",
    "Reconcile passes by handler and outcome.",
    ["handler", "outcome"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    "gale_operator_reconcile_duration_seconds",
    "Time one reconcile pass took, API requests included.",
    ["handler"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
MICROSERVICES = Gauge(
    "gale_operator_microservices",
    "Managed Microservices by condition type and status.",
    ["condition", "status"],
    registry=REGISTRY,
)
CERTIFICATE_EXPIRY = Gauge(
    "gale_operator_certificate_expiry_timestamp_seconds",
    "notAfter of each Microservice's serving certificate (unix seconds); set by the TLS code.",
    ["namespace", "name"],
    registry=REGISTRY,
)

CONDITION_TYPES = ("Ready", "Progressing", "Degraded", "TLSReady")
STATUSES = ("True", "False", "Unknown")

_conditions: dict[tuple[str, str], dict[str, str]] = {}
#: (condition type, status) -> how many Microservices have it; kept in step incrementally,
#: so a pass costs O(1) here, not a scan of every Microservice.
_counts: collections.Counter[tuple[str, str]] = collections.Counter()
#: The (namespace, name) pairs with a published certificate expiry.
_expiries: set[tuple[str, str]] = set()


def record_conditions(key: tuple[str, str], conditions: Iterable[Mapping[str, Any]]) -> None:
    """Remember one Microservice's conditions and refresh the by-condition gauge."""
    _count(key, -1)
    _conditions[key] = {str(c.get("type")): str(c.get("status")) for c in conditions}
    _count(key, +1)
    _refresh()


def set_certificate_expiry(key: tuple[str, str], expiry: float | None) -> None:
    """Publish a Microservice's certificate expiry, or withdraw it (``None``); O(1)."""
    if expiry is not None:
        CERTIFICATE_EXPIRY.labels(*key).set(expiry)
        _expiries.add(key)
    elif key in _expiries:
        CERTIFICATE_EXPIRY.remove(*key)
        _expiries.discard(key)


def forget(key: tuple[str, str]) -> None:
    _count(key, -1)
    _conditions.pop(key, None)
    _refresh()


def _count(key: tuple[str, str], sign: int) -> None:
    for pair in (_conditions.get(key) or {}).items():
        _counts[pair] += sign


def _refresh() -> None:
    for type_ in CONDITION_TYPES:
        for status in STATUSES:
            MICROSERVICES.labels(condition=type_, status=status).set(_counts[(type_, status)])


def serve(port: int, *, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from other pods
    """Serve ``/metrics`` from a daemon thread; the event loop never blocks on a scrape."""
    _refresh()
    start_http_server(port, addr=host, registry=REGISTRY)
