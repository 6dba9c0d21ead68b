"""The service's JSON: orjson's output is the standard library's, text for text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from bson import ObjectId
from bson.tz_util import utc as bson_utc
from gale_service import json_codec
from hypothesis import given
from hypothesis import strategies as st


def reference(value: Any, *, default: Any = None) -> str:
    """What the service wrote before orjson: json.dumps, compact, datetimes with ``Z``."""

    def convert(item: Any) -> Any:
        if isinstance(item, datetime):
            return item.isoformat().replace("+00:00", "Z")
        if default is None:
            raise TypeError(type(item).__name__)
        return default(item)

    return json.dumps(value, default=convert, separators=(",", ":"), ensure_ascii=False)


zones = st.sampled_from(
    [None, UTC, bson_utc, timezone(timedelta(hours=2)), timezone(timedelta(minutes=-330))]
)
moments = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31)),
    zones,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: the fallback's case
    | st.text()
    | moments
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(documents)
def test_every_document_is_written_as_the_standard_library_writes_it(value: Any) -> None:
    assert json_codec.dumps(value) == reference(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_keep_their_value(number: float) -> None:
    assert json.loads(json_codec.dumps({"x": number})) == {"x": number}


def test_a_default_serves_what_json_has_no_type_for() -> None:
    oid = ObjectId()
    value = {"id": oid, "at": datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "big": 2**70}
    assert json_codec.dumps(value, default=str) == reference(value, default=str)


def test_without_a_default_other_types_are_refused() -> None:
    with pytest.raises(TypeError):
        json_codec.dumps({"id": ObjectId()})
