"""JSON as the service writes it: compact, UTF-8, datetimes in RFC 3339 with ``Z`` for UTC.

orjson does the work (about a seventh of the standard library's cost on an item); the
standard library remains the fallback for what orjson refuses (integers beyond 64 bits), so
both produce the same text for every value the service sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as compact JSON; ``default`` turns other types into JSON values (it may
    raise :class:`TypeError`, as :func:`json.dumps` expects)."""
    try:
        return orjson.dumps(value, default=default, option=OPTIONS).decode()
    except TypeError:
        return json.dumps(
            value,
            default=_with_datetimes(default),
            separators=(",", ":"),
            ensure_ascii=False,
        )


def _with_datetimes(default: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, datetime) or default is None:
            return _rfc3339(value)
        return default(value)

    return convert
