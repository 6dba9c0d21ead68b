"""Sessions and tokens end when the user (or an admin) says so, not only when they expire;
usernames are unique regardless of letter case; a CSRF refusal says what to send."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from gale_service.auth.revocation import STALENESS_SECONDS
from gale_service.telemetry.metrics import REGISTRY
from pymongo import MongoClient
from tornado.web import create_signed_value

from tests.mongo import SecantusServer
from tests.service.clients import Browser, connect
from tests.service.harness import ADMIN, ADMIN_PASSWORD, LiveService, live_service

BOB_PASSWORD = "bob's long password"


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri) as service:
        yield service


async def create_user(live: LiveService, username: str, password: str = BOB_PASSWORD) -> int:
    response = await live.fetch(
        "/api/v1/users", method="POST", json_body={"username": username, "password": password}
    )
    return response.code


async def token(live: LiveService, username: str, password: str) -> str:
    response = await live.request_token(username, password)
    assert response.code == 200, response.body
    access: str = json.loads(response.body)["access_token"]
    return access


async def me(live: LiveService, bearer: str) -> int:
    response = await live.fetch("/api/v1/auth/me", headers={"Authorization": f"Bearer {bearer}"})
    return response.code


async def logout(browser: Browser) -> None:
    xsrf = await browser.form_token("/")
    response = await browser.submit("/logout", f"_xsrf={xsrf}")
    assert response.code == 303


async def test_a_cookie_copied_before_logout_stops_working(live: LiveService) -> None:
    browser, other_device = Browser(live), Browser(live)
    await browser.login()
    await other_device.login()
    captured = dict(browser.cookies)
    await logout(browser)

    thief = Browser(live, cookies=captured)
    assert (await thief.fetch("/api/v1/auth/me")).code == 401
    page = await thief.fetch("/")
    assert page.code == 302, "a revoked session is anonymous on pages too"
    # Only that session ended: the same user's other sign-in carries on.
    assert (await other_device.fetch("/api/v1/auth/me")).code == 200


async def test_a_password_change_ends_every_session_and_token(live: LiveService) -> None:
    assert await create_user(live, "bob") == 201
    old_token = await token(live, "bob", BOB_PASSWORD)
    browser = Browser(live)
    await browser.login("bob", BOB_PASSWORD)
    assert (await browser.fetch("/api/v1/auth/me")).code == 200

    wrong = await live.fetch(
        "/api/v1/auth/password",
        method="POST",
        json_body={"current_password": "not it", "new_password": "a brand new password"},
        headers={"Authorization": f"Bearer {old_token}"},
    )
    assert wrong.code == 403
    assert await me(live, old_token) == 200, "a refused change revokes nothing"

    changed = await live.fetch(
        "/api/v1/auth/password",
        method="POST",
        json_body={"current_password": BOB_PASSWORD, "new_password": "a brand new password"},
        headers={"Authorization": f"Bearer {old_token}"},
    )
    assert changed.code == 200, changed.body
    fresh = json.loads(changed.body)["access_token"]
    assert await me(live, fresh) == 200
    refused = await live.fetch("/api/v1/auth/me", headers={"Authorization": f"Bearer {old_token}"})
    assert refused.code == 401
    assert "revoked" in json.loads(refused.body)["detail"]
    assert "revoked" in refused.headers["WWW-Authenticate"]
    assert (await browser.fetch("/api/v1/auth/me")).code == 401
    assert (await browser.login("bob", BOB_PASSWORD)).code == 401
    assert (await browser.login("bob", "a brand new password")).code == 303


async def test_an_admin_revokes_all_of_a_users_credentials(live: LiveService) -> None:
    assert await create_user(live, "bob") == 201
    assert await create_user(live, "eve") == 201
    bob = await token(live, "bob", BOB_PASSWORD)
    eve = await token(live, "eve", BOB_PASSWORD)
    browser = Browser(live)
    await browser.login("bob", BOB_PASSWORD)

    forbidden = await live.fetch(
        "/api/v1/users/bob/sessions", method="DELETE", headers={"Authorization": f"Bearer {eve}"}
    )
    assert forbidden.code == 403
    assert await me(live, bob) == 200
    missing = await live.fetch("/api/v1/users/nobody/sessions", method="DELETE")
    assert missing.code == 404

    revoked = await live.fetch("/api/v1/users/bob/sessions", method="DELETE")
    assert revoked.code == 204
    assert await me(live, bob) == 401
    assert (await browser.fetch("/api/v1/auth/me")).code == 401
    assert await me(live, eve) == 200
    assert await me(live, await token(live, "bob", BOB_PASSWORD)) == 200, "signing in again works"


async def test_other_replicas_refuse_a_revoked_token_within_the_staleness_bound(
    mongo_server: SecantusServer,
) -> None:
    clock = [1000.0]
    async with (
        live_service(mongo_server.uri) as first,
        live_service(
            mongo_server.uri, mongodb_database=first.services.settings.mongodb_database
        ) as second,
    ):
        second.services.auth.revocations.clock = lambda: clock[0]
        assert await create_user(first, "bob") == 201
        bob = await token(first, "bob", BOB_PASSWORD)
        assert await me(second, bob) == 200  # the second replica now caches bob's standing
        assert (await first.fetch("/api/v1/users/bob/sessions", method="DELETE")).code == 204
        assert await me(first, bob) == 401, "at once where it was revoked"
        clock[0] += STALENESS_SECONDS / 2
        assert await me(second, bob) == 200, "the documented staleness"
        clock[0] += STALENESS_SECONDS / 2 + 0.01
        assert await me(second, bob) == 401


def users_reads() -> float:
    labels = {"db_operation_name": "find", "db_collection_name": "users"}
    return REGISTRY.get_sample_value("db_client_operation_duration_seconds_count", labels) or 0.0


async def test_checking_revocation_reads_the_database_once_per_bound(live: LiveService) -> None:
    assert await create_user(live, "bob") == 201
    bob = await token(live, "bob", BOB_PASSWORD)
    live.services.auth.revocations.clock = lambda: 1000.0  # however slow the 30 requests are
    before = users_reads()
    for _ in range(30):
        assert await me(live, bob) == 200
    assert users_reads() - before == 1


async def test_usernames_are_unique_regardless_of_case(live: LiveService) -> None:
    assert await create_user(live, "Bob") == 201
    for twin in ("bob", "BOB", "bOb"):
        response = await live.fetch(
            "/api/v1/users", method="POST", json_body={"username": twin, "password": BOB_PASSWORD}
        )
        assert response.code == 409, twin
        assert json.loads(response.body)["type"].endswith("/user-exists")
    assert await create_user(live, "Bobby") == 201


async def test_the_migration_keeps_users_that_already_differ_only_in_case(
    mongo_server: SecantusServer, caplog: pytest.LogCaptureFixture
) -> None:
    database = "t_casefold_existing"
    client: MongoClient = MongoClient(mongo_server.uri)
    try:
        client.drop_database(database)
        client[database]["users"].insert_many(
            [
                {"_id": "carol", "password_hash": "x", "created_at": 1},
                {"_id": "Carol", "password_hash": "x", "created_at": 2},
            ]
        )
        caplog.set_level(logging.WARNING)
        async with live_service(mongo_server.uri, mongodb_database=database) as live:
            assert (await live.fetch("/startupz")).code == 200
            assert any(
                getattr(record, "usernames", None) == ["Carol"] for record in caplog.records
            ), "the clash is named for an operator"
            assert await create_user(live, "CAROL") == 409
            assert await create_user(live, "dave") == 201
            assert await create_user(live, "Dave") == 409
        stored = {user["_id"]: user.get("key") for user in client[database]["users"].find()}
        assert stored["carol"] == "carol"
        assert stored["Carol"] is None
    finally:
        client.drop_database(database)
        client.close()


async def test_the_csrf_refusal_names_the_header_the_field_and_the_cookie(
    live: LiveService,
) -> None:
    browser = Browser(live)
    await browser.login()
    item = {"name": "from the page"}
    missing = await browser.fetch("/api/v1/items", method="POST", json_body=item)
    assert missing.code == 403
    detail = json.loads(missing.body)["detail"]
    assert "no XSRF token was sent" in detail
    for named in ("X-XSRFToken", "_xsrf", "'_xsrf' cookie"):
        assert named in detail, named
    wrong = await browser.fetch(
        "/api/v1/items", method="POST", json_body=item, headers={"X-XSRFToken": "2|ab|cd|1"}
    )
    assert wrong.code == 403
    assert "does not match the _xsrf cookie" in json.loads(wrong.body)["detail"]


async def test_an_old_session_without_an_id_is_ended_by_logout(live: LiveService) -> None:
    """Cookies issued before session ids existed: logout ends all of that user's sessions."""
    browser = Browser(live)
    assert (await browser.login(ADMIN, ADMIN_PASSWORD)).code == 303
    legacy = live.services.auth  # sign an id-less session exactly as the old code did
    value = create_signed_value(
        legacy.cookie_secrets.as_cookie_secrets(),
        "gale_session",
        json.dumps({"u": ADMIN, "a": True, "l": None}),
        key_version=int(legacy.cookie_secrets.current_id),
    ).decode()
    old = Browser(live, cookies={**browser.cookies, "gale_session": value})
    assert (await old.fetch("/api/v1/auth/me")).code == 200
    await logout(old)
    assert (
        await Browser(live, cookies={"gale_session": value}).fetch("/api/v1/auth/me")
    ).code == 401


async def test_an_open_websocket_closes_once_its_credential_is_revoked(
    live: LiveService,
) -> None:
    assert await create_user(live, "bob") == 201
    bob = await token(live, "bob", BOB_PASSWORD)
    socket = await connect(live, token=bob)
    started = asyncio.get_running_loop().time()
    assert (await live.fetch("/api/v1/users/bob/sessions", method="DELETE")).code == 204
    async with asyncio.timeout(STALENESS_SECONDS * 3):
        while await socket.read_message() is not None:
            pass
    assert socket.close_code == 1008
    assert socket.close_reason == "credentials revoked"
    assert asyncio.get_running_loop().time() - started <= STALENESS_SECONDS * 2.5
