"""RFC 7396 JSON merge patch: pure, so it is unit-tested apart from any handler."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied: a non-object patch replaces the target; in an object,
    ``null`` removes a member and anything else is merged in, recursively. Neither argument
    is modified."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
