"""Security headers on every kind of response, and the Host allow-list."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import AsyncIterator

import pytest
from gale_service.security.headers import content_security_policy
from gale_service.security.hosts import HostAllowList

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri, trusted_proxies=("127.0.0.1",)) as service:
        yield service


def assert_hardened(headers: dict[str, str]) -> str:
    policy = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"
    return policy


@pytest.mark.parametrize(
    "path", ["/api/v1/items", "/api/v1/items/nope", "/no/such/route", "/login", "/livez"]
)
async def test_every_response_is_hardened(live: LiveService, path: str) -> None:
    response = await live.fetch(path)
    assert_hardened(dict(response.headers.get_all()))
    assert "Strict-Transport-Security" not in response.headers


async def test_each_page_gets_its_own_nonce(live: LiveService) -> None:
    first = (await live.fetch("/login")).headers["Content-Security-Policy"]
    second = (await live.fetch("/login")).headers["Content-Security-Policy"]
    assert "'nonce-" in first
    assert first != second


@pytest.mark.parametrize(
    "path", ["/api/v1/items", "/api/v1/items/nope", "/livez", "/metrics", "/static/live.js"]
)
async def test_responses_no_page_rendered_admit_no_inline_code(
    live: LiveService, path: str
) -> None:
    """JSON, problem+json, probes, metrics and files carry no nonce: nothing inline may run."""
    response = await live.fetch(path)
    assert response.headers["Content-Security-Policy"] == content_security_policy()


async def test_an_error_page_gets_a_nonce_of_its_own(live: LiveService) -> None:
    """A page rendered for an error (after ``send_error`` cleared the response) still has a
    nonce, and its policy names it."""
    response = await live.fetch("/items/nope")
    assert response.code == 404
    nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", response.headers["Content-Security-Policy"])
    assert nonce is not None
    assert response.headers["Content-Security-Policy"] == content_security_policy(nonce[1])


async def test_static_files_are_hardened_and_cached_for_a_year(live: LiveService) -> None:
    response = await live.fetch("/static/live.js?v=abc")
    assert response.code == 200
    assert_hardened(dict(response.headers.get_all()))
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


async def test_hsts_only_over_tls(live: LiveService) -> None:
    """Behind a trusted TLS-terminating proxy the request is HTTPS, so HSTS is sent."""
    response = await live.fetch("/api/v1/items", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io", "localhost.evil.example"])
async def test_unknown_host_names_are_refused(live: LiveService, host: str) -> None:
    """DNS rebinding: the attacker's name in ``Host`` is refused, probes still answer."""
    response = await live.fetch("/api/v1/items", headers={"Host": host})
    assert response.code == 400
    assert "is not served here" in response.body.decode()
    assert (await live.fetch("/livez", headers={"Host": host})).code == 200


async def test_allowed_hosts_accept_ports_and_wildcards(mongo_server: SecantusServer) -> None:
    async with live_service(mongo_server.uri, allowed_hosts=("*.example.com",)) as live:
        ok = await live.fetch("/api/v1/items", headers={"Host": "api.example.com:8443"})
        assert ok.code == 200
        bad = await live.fetch("/api/v1/items", headers={"Host": "example.com.evil:80"})
        assert bad.code == 400


@pytest.mark.parametrize("host", ["localhost:8888", "gale.shop.svc", "gale.shop.svc.cluster.local"])
async def test_loopback_and_in_cluster_names_are_served_by_default(
    live: LiveService, host: str
) -> None:
    assert (await live.fetch("/api/v1/items", headers={"Host": host})).code == 200


async def test_date_is_current_and_policy_complete(live: LiveService) -> None:
    """``Date`` is formatted once a second, never stale; the policy names every directive."""
    before = time.time()
    response = await live.fetch("/livez")
    sent = email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
    assert int(before) <= sent <= time.time()
    assert response.headers["Server"].startswith("TornadoServer/")
    assert response.headers["Content-Security-Policy"] == content_security_policy()
    assert content_security_policy("n").split("; ") == [
        "default-src 'self'",
        "script-src 'self' 'nonce-n'",
        "style-src 'self' 'nonce-n'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("api.example.com:443", True),
        ("API.EXAMPLE.COM", True),
        ("a.b.svc.cluster.local", True),
        ("svc.cluster.local", False),  # *.x is subdomains only
        ("example.com", False),
        ("[::1]:8888", True),
        ("", False),
    ],
)
def test_host_patterns_match_case_insensitively(host: str, allowed: bool) -> None:
    hosts = HostAllowList(("API.Example.com", "*.Svc.Cluster.Local", "[::1]"))
    assert hosts.allows(host) is allowed
    assert HostAllowList(("*",)).allows(host) is bool(host)
