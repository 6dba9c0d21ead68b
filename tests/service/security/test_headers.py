"""Security headers: a CSP on every response (nonce-bound where a page asks), HSTS only over
TLS."""

from __future__ import annotations

from gale_service.security.headers import (
    HSTS,
    content_security_policy,
    new_nonce,
    security_headers,
)


def test_the_policy_binds_scripts_and_styles_to_the_nonce() -> None:
    nonce = new_nonce()
    csp = content_security_policy(nonce)
    directives = dict(part.split(" ", 1) for part in csp.split("; "))
    assert directives["script-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["style-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp


def test_without_a_nonce_nothing_inline_may_run() -> None:
    """The policy of a response no page rendered: the same directives, no nonce source."""
    csp = security_headers(tls=False)["Content-Security-Policy"]
    directives = dict(part.split(" ", 1) for part in csp.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "nonce-" not in csp
    assert "unsafe-inline" not in csp
    assert csp == content_security_policy()
    assert csp.split("; ")[3:] == content_security_policy("n").split("; ")[3:]


def test_headers_without_a_nonce_are_a_fresh_dict_each_time() -> None:
    """Callers add their own headers to the result: that must not leak into the next one."""
    first = security_headers(tls=True)
    first["X-Request-ID"] = "one"
    assert "X-Request-ID" not in security_headers(tls=True)


def test_nonces_are_fresh_and_unguessably_long() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert min(len(nonce) for nonce in nonces) >= 24


def test_hsts_only_over_tls() -> None:
    assert "Strict-Transport-Security" not in security_headers(tls=False)
    assert security_headers(tls=True)["Strict-Transport-Security"] == HSTS


def test_framing_and_sniffing_are_refused() -> None:
    headers = security_headers(tls=False)
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
