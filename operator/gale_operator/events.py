"""Which Kubernetes Events a reconcile pass deserves: creations, scaling, config changes, errors.

Derived from the pass's outcome rather than sprinkled through the code, so the event
vocabulary (reasons) lives in one place. One Event per change of state: the children a
pass created (or deleted) are named in one Event, not one each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gale_operator.core import kinds
from gale_operator.core.status import Problem
from gale_operator.kube.apply import Action, Applied
from gale_operator.kube.reconcile import Outcome

#: Problems the status write itself had: retried at once, logged, not worth an Event.
QUIET_PROBLEMS = frozenset({"StatusWriteFailed"})


@dataclasses.dataclass(frozen=True)
class Notice:
    type: str  # "Normal" | "Warning"
    reason: str
    message: str


def notices(outcome: Outcome, *, previous_problem: Problem | None) -> list[Notice]:
    """Events for what this pass changed, and a Warning when a (new) problem appeared."""
    result = _grouped(outcome.applied)
    result.extend(notice for applied in outcome.applied for notice in _for_applied(applied))
    if (
        outcome.problem is not None
        and outcome.problem != previous_problem
        and outcome.problem.reason not in QUIET_PROBLEMS
    ):
        result.append(Notice("Warning", outcome.problem.reason, outcome.problem.message))
    result.extend(Notice("Warning", w.reason, w.message) for w in outcome.warnings)
    if outcome.handed_back is not None:
        result.append(
            Notice(
                "Normal",
                "ReplicasHandedBack",
                f"Autoscaling is off: spec.replicas set to {outcome.handed_back}, "
                "the count the autoscaler ran, so the replica count does not jump",
            )
        )
    return result


def _bookkeeping(key: str, patch: Any) -> bool:
    """A metadata patch touching only the operator's own ``gale.dev/`` annotations (the
    release records): the operator's notes, not a change anyone needs an Event for."""
    if key != "metadata" or not isinstance(patch, Mapping) or set(patch) != {"annotations"}:
        return False
    return all(str(name).startswith(f"{kinds.ANNOTATION_PREFIX}/") for name in patch["annotations"])


def _grouped(applied: tuple[Applied, ...]) -> list[Notice]:
    def names(action: Action) -> str:
        return ", ".join(f"{a.kind.kind} {a.name}" for a in applied if a.action is action)

    result = []
    if created := names(Action.CREATED):
        result.append(Notice("Normal", "Created", f"Created {created}"))
    if deleted := names(Action.DELETED):
        result.append(
            Notice("Normal", "Deleted", f"Deleted {deleted}, no longer wanted by the spec")
        )
    return result


def _for_applied(applied: Applied) -> list[Notice]:
    what = f"{applied.kind.kind} {applied.name}"
    if applied.action is not Action.PATCHED:
        return []
    if applied.kind == kinds.CONFIGMAP:
        keys = sorted((applied.patch.get("data") or {}).keys())
        return [Notice("Normal", "ConfigChanged", f"Changed {what} keys {keys}; pods will roll")]
    found: list[Notice] = []
    spec_patch: Mapping[str, Any] = applied.patch.get("spec") or {}
    if applied.kind == kinds.DEPLOYMENT and "replicas" in spec_patch:
        before = ((applied.before or {}).get("spec") or {}).get("replicas")
        found.append(
            Notice("Normal", "Scaled", f"Scaled {what} from {before} to {spec_patch['replicas']}")
        )
        spec_patch = {k: v for k, v in spec_patch.items() if k != "replicas"}
    others = [k for k in applied.patch if k != "spec" and not _bookkeeping(k, applied.patch[k])]
    fields = sorted({*others, *(f"spec.{k}" for k in spec_patch)})
    if fields:
        found.append(Notice("Normal", "Updated", f"Updated {what}: {', '.join(fields)}"))
    return found
