"""The long-lived objects handlers depend on, as one typed value the Application carries.

Handlers read ``self.services`` (a :class:`Services`), never ``Application.settings``: one
channel, checked by ``mypy --strict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gale_service.auth.authenticator import Authenticator
from gale_service.auth.keys import KeySet, parse_key_set
from gale_service.auth.passwords import PasswordHasher
from gale_service.auth.revocation import Revocations
from gale_service.auth.tokens import TokenPolicy
from gale_service.db import MongoGateway
from gale_service.executors import Executors
from gale_service.health import Health
from gale_service.inflight import InFlight
from gale_service.live.feed import LiveFeed
from gale_service.resource import Resource
from gale_service.security.guard import Guard
from gale_service.settings import Environment, Settings, SettingsError
from gale_service.store import EventLog, VersionedStore
from gale_service.store.users import UserStore
from gale_service.telemetry.tracing import ObservedApplication

if TYPE_CHECKING:
    from tornado import httputil
    from tornado.web import Application, RequestHandler


def _key_set(settings: Settings, name: str, *, numeric_ids: bool) -> KeySet:
    value = getattr(settings, name)
    if value is None:
        raise SettingsError(f"GALE_{name.upper()}: required (id:secret pairs, newest first)")
    return parse_key_set(value.get_secret_value(), numeric_ids=numeric_ids)


def authenticator(settings: Settings, *, users: UserStore, executors: Executors) -> Authenticator:
    """The :class:`Authenticator` the settings describe."""
    secure = settings.secure_cookies
    if secure is None:
        secure = settings.env is Environment.PRODUCTION
    return Authenticator(
        tokens=TokenPolicy(
            keys=_key_set(settings, "jwt_keys", numeric_ids=False),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.jwt_ttl_seconds,
        ),
        cookie_secrets=_key_set(settings, "cookie_secrets", numeric_ids=True),
        passwords=PasswordHasher(
            executors.blocking,
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        ),
        users=users,
        secure_cookies=secure,
        session_ttl_seconds=settings.session_ttl_seconds,
        revocations=Revocations(users),
    )


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
    """The service's ``Application``: its handlers find their dependencies here.

    A handler class may answer some requests without being instantiated: its classmethod
    ``direct_delegate(application, request, route)`` returns the message delegate that
    answers, or ``None`` to be created as usual (the probes do this). Only on unobserved
    routes: such a delegate records no span and no request metric.
    """

    def __init__(self, *args: Any, services: Services, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.services = services

    def direct_delegate(
        self, request: httputil.HTTPServerRequest, target_class: type[RequestHandler], route: str
    ) -> httputil.HTTPMessageDelegate | None:
        direct = getattr(target_class, "direct_delegate", None)
        return direct(self, request, route) if direct is not None else None


def services_of(application: Application) -> Services:
    """The services of the application serving a handler (a type check, not a cast)."""
    if not isinstance(application, ServiceApplication):
        raise TypeError("Gale's handlers are served by a ServiceApplication (see app.make_app)")
    return application.services
