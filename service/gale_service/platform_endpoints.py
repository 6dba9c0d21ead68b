"""The platform's endpoints, those every Gale service has whatever its resources: probes,
auth, users, the live WebSocket and the sign-in pages. Each is declared once, with its
OpenAPI operations."""

from __future__ import annotations

from gale_service.endpoints import Endpoint
from gale_service.handlers.auth import (
    MeHandler,
    PasswordHandler,
    TokenHandler,
    UserCollectionHandler,
    UserSessionsHandler,
)
from gale_service.handlers.health import (
    LivenessHandler,
    ProbeHandler,
    ReadinessHandler,
    StartupHandler,
)
from gale_service.handlers.metrics import MetricsHandler
from gale_service.handlers.pages import LanguagePage, LoginPage, LogoutPage
from gale_service.handlers.ws import LiveSocketHandler
from gale_service.models import AccessToken, Credentials, NewUser, PasswordChange, Probe, User
from gale_service.openapi import BODY_ERRORS, COMMON_ERRORS, Operation
from gale_service.security.hosts import HostAllowList

OPENAPI_OPERATION = Operation(
    "get",
    "openapiDocument",
    "This document",
    free_form=True,
    errors={"503": COMMON_ERRORS["503"]},
    public=True,
)


def _probe(name: str, handler: type[ProbeHandler], summary: str) -> Endpoint:
    """Kubelet probes by pod IP: never admitted (Host-checked, shed, limited) nor observed
    (a draining pod's 503 on ``/readyz`` must not count against the error budget)."""
    operation = Operation(
        "get",
        f"{name}Probe",
        summary,
        response=Probe,
        answers=(("503", Probe, "Not " + summary[0].lower() + summary[1:] + "."),),
        public=True,
    )
    return Endpoint(f"/{name}", handler, name, (operation,), exempt=True, unobserved=True)


def metrics_endpoint(hosts: HostAllowList) -> Endpoint:
    """``/metrics``: scrapes are not API traffic (see :mod:`.handlers.metrics`)."""
    return Endpoint(
        "/metrics", MetricsHandler, "metrics", exempt=True, unobserved=True, kwargs={"hosts": hosts}
    )


PLATFORM: tuple[Endpoint, ...] = (
    _probe("livez", LivenessHandler, "Alive: the event loop answers"),
    _probe(
        "readyz", ReadinessHandler, "Ready for traffic: migrated, a fresh DB ping, not draining"
    ),
    _probe("startupz", StartupHandler, "Started: migrations applied"),
    Endpoint(
        "/api/v1/auth/token",
        TokenHandler,
        "auth_token",
        (
            Operation(
                "post",
                "createToken",
                "Exchange a username and password for a short-lived bearer token",
                Credentials,
                response=AccessToken,
                errors={
                    **BODY_ERRORS,
                    "401": "Wrong username or password.",
                    "429": "Too many login attempts from this address; see Retry-After.",
                },
                public=True,
            ),
        ),
    ),
    Endpoint(
        "/api/v1/auth/me",
        MeHandler,
        "auth_me",
        (Operation("get", "whoAmI", "The authenticated caller", response=User),),
    ),
    Endpoint(
        "/api/v1/auth/password",
        PasswordHandler,
        "password",
        (
            Operation(
                "post",
                "changePassword",
                "Change your password: every earlier session and token of yours ends; "
                "the answer is a fresh token",
                PasswordChange,
                response=AccessToken,
                errors={**BODY_ERRORS, "403": "The current password is wrong."},
            ),
        ),
    ),
    Endpoint(
        "/api/v1/users",
        UserCollectionHandler,
        "users",
        (
            Operation(
                "post",
                "createUser",
                "Create a user (admins only)",
                NewUser,
                response=User,
                status="201",
                errors={
                    **BODY_ERRORS,
                    "403": "The caller is authenticated but not an admin.",
                    "409": "A user with this name exists, in any letter case.",
                },
            ),
        ),
    ),
    Endpoint(
        "/api/v1/users/{username}/sessions",
        UserSessionsHandler,
        "user_sessions",
        (
            Operation(
                "delete",
                "revokeUserSessions",
                "Revoke all: end every session and token of a user (admins, or the user "
                "themself); effective at once on this replica, within 5 s on the others",
                status="204",
                parameters=(
                    {
                        "name": "username",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ),
                errors={
                    "403": "The caller is neither an admin nor this user.",
                    "404": "No such user.",
                },
            ),
        ),
    ),
    Endpoint("/api/v1/ws", LiveSocketHandler, "ws"),
    Endpoint("/login", LoginPage, "login"),
    Endpoint("/logout", LogoutPage, "logout"),
    Endpoint("/language", LanguagePage, "language"),
)
