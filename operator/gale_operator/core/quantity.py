"""Kubernetes resource quantities compared by value, not by spelling.

The API server stores quantities in canonical form ("0.5" becomes "500m", "1024Mi" becomes
"1Gi"), so comparing the user's spelling with the stored one would see a difference on
every pass and patch forever.
"""

from __future__ import annotations

import decimal
import re

_SUFFIXES: dict[str, decimal.Decimal] = {
    "": decimal.Decimal(1),
    "n": decimal.Decimal("1e-9"),
    "u": decimal.Decimal("1e-6"),
    "m": decimal.Decimal("1e-3"),
    "k": decimal.Decimal("1e3"),
    "M": decimal.Decimal("1e6"),
    "G": decimal.Decimal("1e9"),
    "T": decimal.Decimal("1e12"),
    "P": decimal.Decimal("1e15"),
    "E": decimal.Decimal("1e18"),
    **{
        suffix: decimal.Decimal(1024) ** power
        for power, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1)
    },
}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(\d+(\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?|[eE][+-]?\d+)$"
)


def parse_quantity(value: object) -> decimal.Decimal | None:
    """The quantity's value, or ``None`` if ``value`` is not a quantity."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        return None
    number, suffix = decimal.Decimal(match["number"]), match["suffix"]
    if suffix[:1] in {"e", "E"}:
        return number * decimal.Decimal(10) ** int(suffix[1:])
    return number * _SUFFIXES[suffix]


def same_quantity(a: object, b: object) -> bool:
    """Whether two quantities are equal in value (e.g. ``"0.5"`` and ``"500m"``)."""
    left, right = parse_quantity(a), parse_quantity(b)
    return left is not None and right is not None and left == right
