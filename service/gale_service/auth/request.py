"""Finding the principal of a Tornado request: bearer token first, then session cookie.

A request that presents a bearer token is judged by that token alone: a bad token is a 401
even if a valid cookie came along, so a client never silently acts as someone else.
"""

from __future__ import annotations

from tornado.web import RequestHandler, decode_signed_value

from gale_service.auth.authenticator import Authenticator
from gale_service.auth.keys import KeySet
from gale_service.auth.principal import Principal
from gale_service.auth.sessions import decode_session, session_cookie_name
from gale_service.auth.tokens import InvalidToken
from gale_service.problems import Problem

REALM = 'Bearer realm="gale"'


def bearer_token(handler: RequestHandler) -> str | None:
    return parse_authorization(handler.request.headers.get("Authorization"))


def parse_authorization(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; ``None`` without the header, and a
    401 problem for any other shape."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("use 'Authorization: Bearer <token>'", error="invalid_request")
    return token.strip()


def unauthorized(detail: str, *, error: str | None = "invalid_token") -> Problem:
    challenge = REALM
    if error is not None:
        safe = detail.replace('"', "'")
        challenge += f', error="{error}", error_description="{safe}"'
    return Problem(401, detail, slug="unauthorized", headers={"WWW-Authenticate": challenge})


def session_cookie(handler: RequestHandler, authenticator: Authenticator) -> bytes | None:
    """The verified session cookie's payload; ``None`` for a missing, forged or foreign one.

    Only Tornado's v2 signed format is accepted (``min_version=2``): a v1-looking value such
    as ``x`` would otherwise trip an assertion inside Tornado, because v1 cannot name which
    of the rotating secrets signed it. The ``except`` covers what the decoder raises for the
    remaining malformed shapes.
    """
    name = session_cookie_name(secure=authenticator.secure_cookies)
    return verify_session_cookie(
        handler.get_cookie(name),
        name,
        secrets=authenticator.cookie_secrets,
        ttl_seconds=authenticator.session_ttl_seconds,
    )


def verify_session_cookie(
    value: str | None, name: str, *, secrets: KeySet, ttl_seconds: int
) -> bytes | None:
    """:func:`session_cookie` for a cookie value already read from the request."""
    try:
        return decode_signed_value(
            secrets.as_cookie_secrets(),
            name,
            value,
            max_age_days=ttl_seconds / 86_400,
            min_version=2,
        )
    except (ValueError, KeyError, TypeError, AssertionError):
        return None


def identify(handler: RequestHandler, authenticator: Authenticator) -> Principal | None:
    """The caller its credential names, ``None`` when anonymous; a 401 problem for a bad
    bearer token. Revocation is checked separately (:func:`authenticate`), being async."""
    token = bearer_token(handler)
    if token is not None:
        try:
            return authenticator.verified_tokens.verify(token, policy=authenticator.tokens)
        except InvalidToken as error:
            raise unauthorized(str(error)) from None
    return decode_session(session_cookie(handler, authenticator))


async def authenticate(handler: RequestHandler, authenticator: Authenticator) -> Principal | None:
    """:func:`identify`, then refuse a revoked credential: a 401 for a bearer token; a revoked
    session cookie makes the caller anonymous, as if it had expired."""
    principal = identify(handler, authenticator)
    if principal is None or await authenticator.revocations.is_current(principal):
        return principal
    if principal.session is None and uses_bearer(handler):
        raise unauthorized("the token was revoked (password change or revoke-all); get a new one")
    return None


def uses_bearer(handler: RequestHandler) -> bool:
    return "Authorization" in handler.request.headers
