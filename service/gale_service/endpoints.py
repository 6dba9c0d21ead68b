"""One declaration per endpoint: its path, handler, route name, OpenAPI operations and whether
the admission guard and tracing see it. Routing, the OpenAPI document, the guard's exemptions
and tracing's unobserved routes are all derived from these, so none is written twice."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tornado.routing import Rule
from tornado.web import RequestHandler, url

from gale_service.openapi import Operation

PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Endpoint:
    """``path`` is the template (``/api/v1/items/{item_id}``): it names spans, metrics and log
    lines, keys the OpenAPI document, and becomes the route's pattern (each ``{name}`` one
    path segment, passed to the handler positionally). ``exempt``: not admitted by the guard
    (no Host check, shedding, authentication or rate limit: kubelet probes by pod IP);
    ``unobserved``: neither traced nor counted. ``kwargs`` go to the handler's
    ``initialize``."""

    path: str
    handler: type[RequestHandler]
    name: str
    operations: tuple[Operation, ...] = ()
    exempt: bool = False
    unobserved: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pattern(self) -> str:
        literals = PARAMETER.split(self.path)[::2]
        return "([^/]+)".join(re.escape(literal) for literal in literals)

    def rule(self) -> Rule:
        kwargs = {"route": self.path, **self.kwargs}
        if self.exempt:
            kwargs["exempt"] = True
        return url(self.pattern, self.handler, kwargs, name=self.name)


def check_unique(endpoints: Iterable[Endpoint]) -> None:
    """Two endpoints with one path or one route name would silently shadow each other (a
    resource named ``users`` and the platform's users, say): refuse at assembly instead."""
    paths: set[str] = set()
    names: set[str] = set()
    for endpoint in endpoints:
        for value, seen, what in ((endpoint.path, paths, "path"), (endpoint.name, names, "name")):
            if value in seen:
                raise ValueError(f"two endpoints have the {what} {value!r}")
            seen.add(value)


def documented(endpoints: Iterable[Endpoint]) -> list[tuple[str, Operation]]:
    """Every ``(path, operation)`` the endpoints declare, for the OpenAPI document."""
    return [(endpoint.path, op) for endpoint in endpoints for op in endpoint.operations]


def unobserved_routes(endpoints: Iterable[Endpoint]) -> frozenset[str]:
    return frozenset(endpoint.path for endpoint in endpoints if endpoint.unobserved)
