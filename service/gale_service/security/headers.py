"""Security headers for every response, with a fresh CSP nonce per request.

The policy forbids inline script and style unless it carries the request's nonce, so an
injected ``<script>`` in an item name cannot run even if escaping were ever broken.
``frame-ancestors 'none'`` (with ``X-Frame-Options`` for old browsers) stops clickjacking.
HSTS is only sent over TLS: on plain HTTP it is ignored by browsers and misleading.
"""

from __future__ import annotations

import secrets

HSTS = "max-age=63072000; includeSubDomains"


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


#: The policy, with ``{nonce}`` where each response's nonce goes.
_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'nonce-{nonce}'",
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
_FIXED_TLS = {**_FIXED, "Strict-Transport-Security": HSTS}


def content_security_policy(nonce: str) -> str:
    return _POLICY.format(nonce=nonce)


def security_headers(*, nonce: str, tls: bool) -> dict[str, str]:
    """Every security header, values already valid for a response (the nonce is URL-safe
    base64), so callers may set them without Tornado's per-value check."""
    return {
        "Content-Security-Policy": _POLICY.format(nonce=nonce),
        **(_FIXED_TLS if tls else _FIXED),
    }
