"""Keeping secrets out of logs and spans: URL credentials, sensitive query values, headers.

Tokens travel in query strings (``?access_token=``), URIs carry passwords
(``mongodb://user:pass@host``) and Tornado's uncaught-exception line prints the request URI,
so scrubbing happens where text leaves the process (the log formatter, span attributes),
not at each call site that might forget.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "REDACTED"
#: Query parameters and headers whose values are secrets (compared case-insensitively).
SECRET_QUERY_KEYS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth",
        "client_secret",
        "code",
        "id_token",
        "key",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "token",
    }
)
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "proxy-authorization", "set-cookie", "x-api-key"}
)

_QUERY_PAIR = re.compile(r"(?P<key>[^&=?#\s'\"(,]+)=(?P<value>[^&#\s'\"?]*)")
_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def scrub_query(query: str) -> str:
    """``a=1&token=abc`` → ``a=1&token=REDACTED``."""

    def pair(match: re.Match[str]) -> str:
        if match["key"].lower() in SECRET_QUERY_KEYS:
            return f"{match['key']}={REDACTED}"
        return match.group()

    return _QUERY_PAIR.sub(pair, query)


def scrub_text(text: str) -> str:
    """Redact URL passwords, secret query values and bearer/basic credentials in free text."""
    if "=" in text:
        text = scrub_query(text)
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    if "earer" in text or "asic" in text:
        text = _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", text)
    return text


def scrub_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of ``headers`` safe to log."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {name: REDACTED if name.lower() in SECRET_HEADERS else value for name, value in pairs}


__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_QUERY_KEYS",
    "scrub_headers",
    "scrub_query",
    "scrub_text",
]
