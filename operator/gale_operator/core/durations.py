"""Go-style durations ("2160h", "1h30m", "90s"), the format cert-manager and kubectl use.

Accepting exactly Go's grammar keeps ``spec.tls`` identical in both TLS modes: the same
string is handed to cert-manager verbatim and interpreted here for self-signed certificates.
"""

from __future__ import annotations

import datetime
import re

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go accepts both micro signs
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_TERM = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> datetime.timedelta:
    """The non-negative duration ``text`` denotes; ValueError saying the expected form if none."""
    body = text.strip()
    if body == "0":
        return datetime.timedelta(0)
    position, seconds = 0, 0.0
    while position < len(body) or not body:
        term = _TERM.match(body, position)
        if term is None:
            raise ValueError(f"invalid duration {text!r}: expected Go form like '2160h' or '1h30m'")
        seconds += float(term.group(1)) * _UNIT_SECONDS[term.group(2)]
        position = term.end()
    return datetime.timedelta(seconds=seconds)
