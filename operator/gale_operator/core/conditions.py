"""Status conditions as the Kubernetes API conventions define them.

A condition's ``lastTransitionTime`` changes only when its ``status`` does, and an upsert
touches only its own type, so conditions other code sets (e.g. ``TLSReady``) survive.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Iterable, Mapping
from typing import Any

READY = "Ready"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
#: The types every Microservice reports from its first visit on.
STANDARD_TYPES: tuple[str, ...] = (READY, PROGRESSING, DEGRADED)


class Status(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@dataclasses.dataclass(frozen=True)
class Condition:
    type: str
    status: Status
    reason: str
    message: str = ""


def timestamp(now: datetime.datetime) -> str:
    """RFC 3339 in UTC with seconds precision, the format the API server stores."""
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def upsert(
    conditions: Iterable[Mapping[str, Any]],
    condition: Condition,
    *,
    generation: int,
    now: datetime.datetime,
) -> list[dict[str, Any]]:
    """Return ``conditions`` with ``condition`` set, keeping every other type as it was."""
    result: list[dict[str, Any]] = []
    found = False
    for existing in conditions:
        if existing.get("type") != condition.type:
            result.append(dict(existing))
            continue
        found = True
        unchanged = existing.get("status") == condition.status.value
        result.append(
            _render(
                condition,
                generation=generation,
                since=str(existing.get("lastTransitionTime")) if unchanged else timestamp(now),
            )
        )
    if not found:
        result.append(_render(condition, generation=generation, since=timestamp(now)))
    return result


def upsert_all(
    conditions: Iterable[Mapping[str, Any]],
    updates: Iterable[Condition],
    *,
    generation: int,
    now: datetime.datetime,
) -> list[dict[str, Any]]:
    result = [dict(c) for c in conditions]
    for condition in updates:
        result = upsert(result, condition, generation=generation, now=now)
    return result


def find(conditions: Iterable[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def initial(*, generation: int, now: datetime.datetime) -> list[dict[str, Any]]:
    """The Unknown conditions a Microservice gets on the operator's first visit."""
    return upsert_all(
        [],
        [
            Condition(t, Status.UNKNOWN, "Reconciling", "The operator has started reconciling.")
            for t in STANDARD_TYPES
        ],
        generation=generation,
        now=now,
    )


def _render(condition: Condition, *, generation: int, since: str) -> dict[str, Any]:
    return {
        "type": condition.type,
        "status": condition.status.value,
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }
