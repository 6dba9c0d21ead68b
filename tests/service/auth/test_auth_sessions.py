"""Browser sessions: signed cookies with deliberate attributes, and CSRF on cookie auth."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.mongo import SecantusServer
from tests.service.clients import Browser, set_cookies
from tests.service.harness import ADMIN, LiveService, live_service


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri) as service:
        yield service


async def test_login_sets_a_hardened_session_cookie(live: LiveService) -> None:
    browser = Browser(live)
    response = await browser.login()
    assert response.code == 303
    assert response.headers["Location"] == "/"
    cookie = set_cookies(response)["gale_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert "secure" not in cookie  # plain-HTTP dev; see the TLS test below
    assert "domain" not in cookie
    assert cookie["value"].startswith("2|1:2|")  # signed, with key version 2 (current)
    me = await browser.fetch("/api/v1/auth/me")
    assert json.loads(me.body)["username"] == ADMIN


async def test_secure_deployments_use_host_prefixed_secure_cookies(
    mongo_server: SecantusServer,
) -> None:
    async with live_service(mongo_server.uri, secure_cookies=True) as live:
        browser = Browser(live)
        login_page = await browser.fetch("/login")
        xsrf = set_cookies(login_page)["__Host-xsrf"]
        assert xsrf["secure"] is True
        assert xsrf["path"] == "/"
        response = await browser.login()
        assert response.code == 303
        session = set_cookies(response)["__Host-gale_session"]
        assert session["secure"] is True
        assert session["httponly"] is True
        assert session["samesite"] == "Lax"
        assert "domain" not in session


async def test_wrong_password_shows_the_form_again(live: LiveService) -> None:
    response = await Browser(live).login(password="nope")
    assert response.code == 401
    assert "Wrong username or password." in response.body.decode()
    assert "gale_session" not in set_cookies(response)


@pytest.mark.parametrize("token", [None, "2|00000000|0000|0", "garbage"])
async def test_login_without_a_valid_xsrf_token_is_403(
    live: LiveService, token: str | None
) -> None:
    browser = Browser(live)
    await browser.fetch("/login")  # gets the xsrf cookie
    field = f"_xsrf={token}&" if token else ""
    response = await browser.submit("/login", f"{field}username={ADMIN}&password=x")
    assert response.code == 403


async def test_cookie_authenticated_api_writes_need_the_xsrf_header(live: LiveService) -> None:
    browser = Browser(live)
    await browser.login()
    item = {"name": "from the page"}
    missing = await browser.fetch("/api/v1/items", method="POST", json_body=item)
    assert missing.code == 403
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    wrong = await browser.fetch(
        "/api/v1/items", method="POST", json_body=item, headers={"X-XSRFToken": "2|ab|cd|1"}
    )
    assert wrong.code == 403
    token = await browser.form_token("/")
    created = await browser.fetch(
        "/api/v1/items", method="POST", json_body=item, headers={"X-XSRFToken": token}
    )
    assert created.code == 201
    assert json.loads(created.body)["owner"] == ADMIN


async def test_bearer_requests_are_exempt_from_xsrf(live: LiveService) -> None:
    """A bearer token is never attached by the browser on its own, so no CSRF exists."""
    browser = Browser(live)
    await browser.login()
    created = await browser.fetch(
        "/api/v1/items",
        method="POST",
        json_body={"name": "scripted"},
        headers={"Authorization": f"Bearer {live.token_for('script')}"},
    )
    assert created.code == 201
    assert json.loads(created.body)["owner"] == "script"


async def test_tampered_session_cookie_is_anonymous(live: LiveService) -> None:
    browser = Browser(live)
    await browser.login()
    value = browser.cookies["gale_session"]
    browser.cookies["gale_session"] = value.replace("|", "|x", 1)
    assert (await browser.fetch("/api/v1/auth/me")).code == 401
    page = await browser.fetch("/")
    assert page.code == 302
    assert page.headers["Location"] == "/login?next=/"


async def test_logout_ends_the_session(live: LiveService) -> None:
    browser = Browser(live)
    await browser.login()
    token = await browser.form_token("/")
    response = await browser.submit("/logout", f"_xsrf={token}")
    assert response.code == 303
    assert "gale_session" not in browser.cookies
    assert (await browser.fetch("/api/v1/auth/me")).code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
async def test_login_never_redirects_off_site(live: LiveService, target: str) -> None:
    browser = Browser(live)
    token = await browser.form_token()
    response = await browser.submit(
        "/login",
        f"_xsrf={token}&username={ADMIN}&password=correct horse battery staple&next={target}",
    )
    assert response.code == 303
    assert response.headers["Location"] == "/"
