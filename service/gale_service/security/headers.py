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


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            # 'self' covers same-origin ws:/wss: in CSP Level 3 browsers.
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(*, nonce: str, tls: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(nonce),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if tls:
        headers["Strict-Transport-Security"] = HSTS
    return headers
