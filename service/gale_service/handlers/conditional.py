"""Conditional requests on versioned documents (RFC 9110): the ETag is the stored version,
``If-Match`` makes a write conditional, ``If-None-Match`` makes a read answer 304."""

from __future__ import annotations

import re
from typing import Any

from gale_service.problems import Problem

#: RFC 9110 ``If-Match``: ``*`` or a list of entity tags (opaque quoted strings, maybe weak).
IF_MATCH = re.compile(r'^(?:\*|(?:W/)?"[^"\s]*"(?:\s*,\s*(?:W/)?"[^"\s]*")*)$')
#: Strong tags only: ``If-Match`` uses strong comparison, so a weak tag never matches. At
#: most 18 ASCII digits: no version is longer, and ``int()`` refuses over 4300 digits.
STRONG_VERSION = re.compile(r'(?<!W/)"([0-9]{1,18})"')


def etag_for(document: dict[str, Any]) -> str:
    return f'"{document["version"]}"'


def expected_version(header: str | None) -> int | None:
    """The version named by an ``If-Match`` header; ``None`` without one or for ``*`` (any
    existing version). A malformed header is a 400 problem, one naming no strong version a
    412."""
    if header is None:
        return None
    if not IF_MATCH.match(header.strip()):
        raise Problem(
            400,
            f'If-Match must be * or ETags such as "3", got {header[:100]!r}',
            slug="bad-if-match",
        )
    if header.strip() == "*":
        return None
    versions = STRONG_VERSION.findall(header)
    if not versions:
        raise Problem(
            412,
            f"If-Match {header[:100]!r} matches no version of this document (weak ETags never do)",
            slug="stale-etag",
        )
    return int(versions[0])


def not_modified(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (weak comparison, RFC 9110)."""
    candidates = {tag.strip() for tag in (header or "").split(",")}
    return etag in candidates or f"W/{etag}" in candidates or "*" in candidates
