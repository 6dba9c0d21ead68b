"""Keyset paging cursors: opaque, URL-safe, bound to the filter they were issued for, and
refused (never a crash) whatever else a client sends instead."""

from __future__ import annotations

import base64
import contextlib
import json
import re

import pytest
from bson import ObjectId
from gale_service.store.cursors import InvalidCursor, decode_cursor, encode_cursor
from hypothesis import given
from hypothesis import strategies as st

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
tags = st.none() | st.text(min_size=1, max_size=32)


@given(st.binary(min_size=12, max_size=12), tags)
def test_a_cursor_names_the_id_it_was_issued_after(raw: bytes, tag: str | None) -> None:
    after = ObjectId(raw)
    cursor = encode_cursor(after=str(after), tag=tag)
    assert URL_SAFE.match(cursor), "fits the documented pattern, no padding to escape"
    assert decode_cursor(cursor, tag=tag) == after


def test_a_cursor_continues_only_the_query_it_was_issued_for() -> None:
    cursor = encode_cursor(after=str(ObjectId()), tag="red")
    for other in (None, "blue", "Red"):
        with pytest.raises(InvalidCursor, match="different tag filter"):
            decode_cursor(cursor, tag=other)
    unfiltered = encode_cursor(after=str(ObjectId()), tag=None)
    with pytest.raises(InvalidCursor):
        decode_cursor(unfiltered, tag="red")


def forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "bogus",
        "====",
        "%%%",
        " ",
        "e30 ",
        "e3\x1a0",
        forged({"t": None}),
        forged({"a": "not an object id", "t": None}),
        forged({"a": 12, "t": None}),
        forged(["a", "t"]),
        forged("a string"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_anything_else_is_refused_as_not_issued_here(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="not one this service issued"):
        decode_cursor(cursor, tag=None)


@given(st.text(max_size=64), tags)
def test_no_string_is_anything_but_an_id_or_refused(cursor: str, tag: str | None) -> None:
    with contextlib.suppress(InvalidCursor):
        assert isinstance(decode_cursor(cursor, tag=tag), ObjectId)


def test_cursors_follow_insertion_order() -> None:
    """Keyset paging continues after ``_id``: ids made later sort after the cursor's."""
    first, later = ObjectId(), ObjectId()
    assert decode_cursor(encode_cursor(after=str(first), tag=None), tag=None) < later


@pytest.mark.parametrize("junk", [" ", "\x1a", "+", "\n"])
def test_an_issued_cursor_with_a_stray_character_is_refused(junk: str) -> None:
    """Base64 decoding drops characters outside its alphabet (four keep the padding right);
    the cursor must not."""
    issued = encode_cursor(after=str(ObjectId()), tag=None)
    with pytest.raises(InvalidCursor, match="not one this service issued"):
        decode_cursor(issued[:4] + junk * 4 + issued[4:], tag=None)
