"""Finding the principal of a Tornado request: bearer token first, then session cookie.

A request that presents a bearer token is judged by that token alone: a bad token is a 401
even if a valid cookie came along, so a client never silently acts as someone else.
"""

from __future__ import annotations

from tornado.web import RequestHandler

from gale_service.auth.authenticator import Authenticator
from gale_service.auth.principal import Principal
from gale_service.auth.sessions import decode_session, session_cookie_name
from gale_service.auth.tokens import InvalidToken
from gale_service.problems import Problem

REALM = 'Bearer realm="gale"'


def bearer_token(handler: RequestHandler) -> str | None:
    header = handler.request.headers.get("Authorization")
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


def identify(handler: RequestHandler, authenticator: Authenticator) -> Principal | None:
    """The caller, ``None`` when anonymous; raises a 401 problem for a bad bearer token."""
    token = bearer_token(handler)
    if token is not None:
        try:
            return authenticator.verified_tokens.verify(token, policy=authenticator.tokens)
        except InvalidToken as error:
            raise unauthorized(str(error)) from None
    cookie = handler.get_signed_cookie(
        session_cookie_name(secure=authenticator.secure_cookies),
        max_age_days=authenticator.session_ttl_seconds / 86_400,
    )
    return decode_session(cookie)


def uses_bearer(handler: RequestHandler) -> bool:
    return "Authorization" in handler.request.headers
