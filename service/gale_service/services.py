"""The long-lived objects handlers depend on, as one typed value the Application carries.

Handlers read ``self.services`` (a :class:`Services`), never ``Application.settings``: one
channel, checked by ``mypy --strict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gale_service.auth.authenticator import Authenticator
from gale_service.db import MongoGateway
from gale_service.executors import Executors
from gale_service.health import Health
from gale_service.inflight import InFlight
from gale_service.live.feed import LiveFeed
from gale_service.resource import Resource
from gale_service.security.guard import Guard
from gale_service.settings import Settings
from gale_service.store import EventLog, VersionedStore
from gale_service.telemetry.tracing import ObservedApplication

if TYPE_CHECKING:
    from tornado.web import Application


@dataclass(frozen=True)
class Services:
    """Created by the lifecycle at start-up; ``stores`` holds one store per registered
    resource, by its name."""

    settings: Settings
    gateway: MongoGateway
    events: EventLog
    stores: Mapping[str, VersionedStore]
    health: Health
    inflight: InFlight
    executors: Executors
    auth: Authenticator
    guard: Guard
    feed: LiveFeed

    def store(self, resource: Resource) -> VersionedStore:
        return self.stores[resource.name]


class ServiceApplication(ObservedApplication):
    """The service's ``Application``: its handlers find their dependencies here."""

    def __init__(self, *args: Any, services: Services, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.services = services


def services_of(application: Application) -> Services:
    """The services of the application serving a handler (a type check, not a cast)."""
    if not isinstance(application, ServiceApplication):
        raise TypeError("Gale's handlers are served by a ServiceApplication (see app.make_app)")
    return application.services
