"""Keyset paging cursors: an opaque token naming the last ``_id`` a page returned and the
filter it was issued for, so a page can never silently continue a different query."""

from __future__ import annotations

import base64
import binascii
import json
import re

from bson import ObjectId
from bson.errors import InvalidId

#: What :func:`encode_cursor` writes; ``urlsafe_b64decode`` would silently drop anything else.
ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


class InvalidCursor(ValueError):
    """A listing cursor that this service did not issue, or issued for another query."""


def encode_cursor(*, after: str, tag: str | None) -> str:
    raw = json.dumps({"a": after, "t": tag}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, tag: str | None) -> ObjectId:
    """The ``_id`` to continue after; :class:`InvalidCursor` for anything else, whatever the
    bytes (bad base64, JSON, shape or id) or a cursor issued for another filter."""
    if not ALPHABET.fullmatch(cursor):
        raise InvalidCursor("cursor is not one this service issued")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = ObjectId(data["a"])
    except (ValueError, KeyError, TypeError, InvalidId, binascii.Error):
        raise InvalidCursor("cursor is not one this service issued") from None
    if data.get("t") != tag:
        raise InvalidCursor("cursor was issued for a different tag filter")
    return after
