"""Security headers: a nonce-bound CSP on every response, HSTS only over TLS."""

from __future__ import annotations

from gale_service.security.headers import HSTS, new_nonce, security_headers


def test_the_policy_binds_scripts_and_styles_to_the_nonce() -> None:
    nonce = new_nonce()
    csp = security_headers(nonce=nonce, tls=False)["Content-Security-Policy"]
    directives = dict(part.split(" ", 1) for part in csp.split("; "))
    assert directives["script-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["style-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp


def test_nonces_are_fresh_and_unguessably_long() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert min(len(nonce) for nonce in nonces) >= 24


def test_hsts_only_over_tls() -> None:
    assert "Strict-Transport-Security" not in security_headers(nonce="n", tls=False)
    assert security_headers(nonce="n", tls=True)["Strict-Transport-Security"] == HSTS


def test_framing_and_sniffing_are_refused() -> None:
    headers = security_headers(nonce="n", tls=False)
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
