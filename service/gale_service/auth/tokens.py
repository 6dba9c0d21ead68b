"""Short-lived bearer tokens: JWTs signed with HS256, the algorithm pinned.

Verification refuses anything it did not issue: the ``alg`` header must be exactly HS256
(``none`` and public-key algorithms are rejected before a key is chosen, which closes the
classic key-confusion attacks), the ``kid`` must name a key in the current set, and
``exp``/``nbf``/``iat``/``iss``/``aud``/``sub`` are all required.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from gale_service.auth.keys import KeySet
from gale_service.auth.principal import Principal

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub"]


class InvalidToken(Exception):
    """A bearer token that must be refused; the message is safe to show the caller."""


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    keys: KeySet
    issuer: str
    audience: str
    ttl_seconds: int
    leeway_seconds: int = 5


def issue_token(principal: Principal, *, policy: TokenPolicy, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": principal.username,
        "role": "admin" if principal.is_admin else "user",
        "iss": policy.issuer,
        "aud": policy.audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + policy.ttl_seconds,
        "gen": principal.generation,
    }
    if principal.locale:
        claims["locale"] = principal.locale
    return jwt.encode(
        claims,
        policy.keys.current_secret,
        algorithm=ALGORITHM,
        headers={"kid": policy.keys.current_id},
    )


def verify_token(token: str, *, policy: TokenPolicy) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        # Every PyJWT error, not only ``DecodeError``: a ``kid`` that is not a string or an
        # unknown ``crit`` raise the base ``InvalidTokenError`` before any key is chosen.
        raise InvalidToken("the token is not a well-formed JWT") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"algorithm {str(header.get('alg'))[:40]!r} is not accepted")
    kid = header.get("kid")
    secret = policy.keys.secret_for(kid) if isinstance(kid, str) else None
    if secret is None:
        raise InvalidToken("the token names no current signing key (kid)")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=policy.leeway_seconds,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("the token is not valid yet") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("the token was issued by someone else") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("the token is meant for another audience") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("the token signature does not verify") from None
    except jwt.PyJWTError as error:
        # ``PyJWTError``, not ``InvalidTokenError``: ``InvalidKeyError`` and the JWK errors
        # derive from the base class only.
        raise InvalidToken(f"the token is invalid: {error}") from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("the token has no subject")
    locale, generation = claims.get("locale"), claims.get("gen", 0)
    return Principal(
        username=subject,
        is_admin=claims.get("role") == "admin",
        locale=locale if isinstance(locale, str) else None,
        # Not an int (only a key holder could sign one): a generation no user has.
        generation=generation if type(generation) is int else -1,
    )
