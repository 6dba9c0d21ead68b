"""Conditions per the API conventions: transitions, timestamps, and not clobbering others."""

from __future__ import annotations

import datetime

from gale_operator.core import conditions
from gale_operator.core.conditions import Condition, Status

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)


def test_initial_conditions_are_unknown() -> None:
    initial = conditions.initial(generation=3, now=T0)
    assert [(c["type"], c["status"]) for c in initial] == [
        ("Ready", "Unknown"),
        ("Progressing", "Unknown"),
        ("Degraded", "Unknown"),
    ]
    assert all(
        c["observedGeneration"] == 3 and c["lastTransitionTime"] == "2026-01-01T00:00:00Z"
        for c in initial
    )


def test_transition_time_moves_only_when_status_changes() -> None:
    first = conditions.upsert([], Condition("Ready", Status.FALSE, "A", "a"), generation=1, now=T0)
    same = conditions.upsert(
        first, Condition("Ready", Status.FALSE, "B", "b"), generation=2, now=T1
    )
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert (same[0]["reason"], same[0]["observedGeneration"]) == ("B", 2)
    flipped = conditions.upsert(same, Condition("Ready", Status.TRUE, "C"), generation=2, now=T1)
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T00:05:00Z"


def test_other_condition_types_survive() -> None:
    tls = {
        "type": "TLSReady",
        "status": "True",
        "reason": "Issued",
        "message": "",
        "lastTransitionTime": "2025-12-01T00:00:00Z",
    }
    result = conditions.upsert([tls], Condition("Ready", Status.TRUE, "Ok"), generation=1, now=T0)
    assert result[0] == tls
    assert conditions.find(result, "Ready") is not None
    assert conditions.find(result, "Missing") is None
