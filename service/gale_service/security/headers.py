"""Security headers for every response; a CSP nonce only where a page can use one.

The policy forbids inline script and style. A rendered page gets a fresh nonce per response
and may run the inline code carrying it, so an injected ``<script>`` in an item name cannot
run even if escaping were ever broken. Every other response (JSON, problem+json, probes,
metrics, static files) gets the same policy with no nonce at all: nothing inline may run, and
no random bytes are drawn for a body no browser executes.
``frame-ancestors 'none'`` (with ``X-Frame-Options`` for old browsers) stops clickjacking.
HSTS is only sent over TLS: on plain HTTP it is ignored by browsers and misleading.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tornado.web import RequestHandler

HSTS = "max-age=63072000; includeSubDomains"


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


#: The policy, with ``{sources}`` where a page's nonce goes (after ``'self'``).
_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'{sources}",
        "style-src 'self'{sources}",
        "img-src 'self' data:",
        # 'self' covers same-origin ws:/wss: in CSP Level 3 browsers.
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
#: What does not change from response to response (HSTS only over TLS).
_FIXED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def content_security_policy(nonce: str | None = None) -> str:
    """The policy; with ``nonce`` (a page's), inline script and style carrying it may run."""
    return _POLICY.format(sources=f" 'nonce-{nonce}'" if nonce else "")


#: Every security header by TLS, the policy without a nonce: built once, copied per response.
_PLAIN_HEADERS = {"Content-Security-Policy": content_security_policy(), **_FIXED}
_HEADERS = {False: _PLAIN_HEADERS, True: {**_PLAIN_HEADERS, "Strict-Transport-Security": HSTS}}


def security_headers(*, tls: bool) -> dict[str, str]:
    """Every security header, values already valid for a response, so callers may set them
    without Tornado's per-value check. A fresh dict: the caller may add to it. A page that
    needs a nonce replaces the policy with ``content_security_policy(nonce)``."""
    return dict(_HEADERS[tls])


def set_security_headers(handler: RequestHandler) -> None:
    """Set every security header on a handler that is not an ``ApiHandler`` (which builds
    them in one step in ``clear``): metrics, static files, WebSocket upgrades."""
    for name, value in security_headers(tls=handler.request.protocol == "https").items():
        handler.set_header(name, value)
