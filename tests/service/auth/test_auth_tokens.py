"""Bearer tokens: issued for a correct password, and every forged or stale one refused."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from tests.mongo import SecantusServer
from tests.service.harness import ADMIN, ADMIN_PASSWORD, LiveService, live_service

#: Forging an HS512 token with a 40-byte key is the point of one attack case.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
CURRENT_KEY = "k" * 40
PREVIOUS_KEY = "o" * 40


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri) as service:
        yield service


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "mallory",
        "role": "admin",
        "iss": "gale",
        "aud": "gale-api",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def forge(*, key: str = CURRENT_KEY, kid: str = "test-2", alg: str = "HS256", **claim: Any) -> str:
    return jwt.encode(claims(**claim), key, algorithm=alg, headers={"kid": kid})


async def call_with(live: LiveService, token: str) -> Any:
    return await live.fetch("/api/v1/items", headers={"Authorization": f"Bearer {token}"})


async def test_password_grants_a_token_signed_with_the_current_key(live: LiveService) -> None:
    response = await live.request_token(ADMIN, ADMIN_PASSWORD)
    assert response.code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.body)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert jwt.get_unverified_header(body["access_token"]) == {
        "alg": "HS256",
        "kid": "test-2",
        "typ": "JWT",
    }
    me = await live.fetch(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert json.loads(me.body) == {"username": ADMIN, "is_admin": True, "locale": None}


@pytest.mark.parametrize(
    ("username", "password"), [(ADMIN, "wrong password"), ("nobody", ADMIN_PASSWORD)]
)
async def test_wrong_credentials_get_401(live: LiveService, username: str, password: str) -> None:
    response = await live.request_token(username, password)
    assert response.code == 401
    assert json.loads(response.body)["detail"] == "wrong username or password"


async def test_no_credentials_is_a_401_challenge(live: LiveService) -> None:
    response = await live.fetch("/api/v1/items", auth=False)
    assert response.code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="gale"'


async def test_previous_key_still_verifies_after_rotation(live: LiveService) -> None:
    response = await call_with(live, forge(key=PREVIOUS_KEY, kid="test-1", role="user"))
    assert response.code == 200


def unsigned_token() -> str:
    """``alg: none``: header and claims with an empty signature."""
    return jwt.encode(claims(), None, algorithm="none", headers={"kid": "test-2"})


ATTACKS = {
    "alg none": (unsigned_token, "algorithm 'none' is not accepted"),
    "wrong algorithm": (lambda: forge(alg="HS512"), "algorithm 'HS512' is not accepted"),
    "wrong key": (lambda: forge(key="z" * 40), "signature does not verify"),
    "unknown kid": (lambda: forge(kid="retired"), "names no current signing key"),
    "current key, old kid": (lambda: forge(kid="test-1"), "signature does not verify"),
    "expired": (
        lambda: forge(iat=int(time.time()) - 1000, exp=int(time.time()) - 100),
        "has expired",
    ),
    "not yet valid": (lambda: forge(nbf=int(time.time()) + 600), "not valid yet"),
    "wrong issuer": (lambda: forge(iss="someone-else"), "issued by someone else"),
    "wrong audience": (lambda: forge(aud="another-api"), "another audience"),
    "no expiry": (lambda: forge(exp=None), "invalid"),
    "garbage": (lambda: "not.a.jwt", "not a well-formed JWT"),
}


@pytest.mark.parametrize("attack", ATTACKS)
async def test_forged_or_stale_tokens_are_refused(live: LiveService, attack: str) -> None:
    make, reason = ATTACKS[attack]
    response = await call_with(live, make())
    assert response.code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="gale", error="invalid_token"')
    assert reason in json.loads(response.body)["detail"]
    assert reason in challenge


async def test_a_bad_token_is_not_rescued_by_anything_else(live: LiveService) -> None:
    response = await live.fetch("/api/v1/items", headers={"Authorization": "Basic YWRtaW46eA=="})
    assert response.code == 401
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
