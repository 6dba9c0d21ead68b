"""Browser sessions: a signed cookie naming the principal, with deliberate attributes.

- ``HttpOnly``: page scripts (and so injected scripts) cannot read it.
- ``SameSite=Lax``: not sent on cross-site sub-requests or cross-site POSTs.
- ``Secure`` and the ``__Host-`` prefix when served over TLS: the browser then refuses the
  cookie from plain HTTP and from any other (sub)domain, and it cannot carry a ``Domain``.
  Plain-HTTP dev cannot use the prefix (browsers require ``Secure`` with it).
Signing uses Tornado's versioned ``cookie_secret`` dict, so secrets rotate like JWT keys.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from gale_service.auth.principal import Principal

SESSION_COOKIE = "gale_session"
XSRF_COOKIE = "_xsrf"
HOST_PREFIX = "__Host-"


def session_cookie_name(*, secure: bool) -> str:
    return HOST_PREFIX + SESSION_COOKIE if secure else SESSION_COOKIE


def xsrf_cookie_name(*, secure: bool) -> str:
    return HOST_PREFIX + "xsrf" if secure else XSRF_COOKIE


def cookie_options(*, secure: bool) -> dict[str, Any]:
    """Attributes for every cookie the service sets (``path=/`` is what ``__Host-`` needs)."""
    return {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/"}


def new_session_id() -> str:
    """Names one sign-in, so logout can end it alone; safe as a MongoDB field name."""
    return secrets.token_urlsafe(12)


def encode_session(principal: Principal) -> str:
    return json.dumps(
        {
            "u": principal.username,
            "a": principal.is_admin,
            "l": principal.locale,
            "g": principal.generation,
            "s": principal.session,
        },
        separators=(",", ":"),
    )


def decode_session(value: bytes | None) -> Principal | None:
    """The principal in a cookie whose signature already verified; ``None`` if malformed."""
    if not value:
        return None
    try:
        data = json.loads(value)
        username = data["u"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    if not isinstance(username, str) or not username:
        return None
    locale, generation, session = data.get("l"), data.get("g", 0), data.get("s")
    return Principal(
        username=username,
        is_admin=data.get("a") is True,
        locale=locale if isinstance(locale, str) else None,
        generation=generation if type(generation) is int else -1,
        session=session if isinstance(session, str) else None,
    )
