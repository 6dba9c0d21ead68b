"""Who sets the replica count, how it passes between the spec and the autoscaler, and a safe PDB.

While ``autoscaling.enabled`` is true the HorizontalPodAutoscaler scales the Deployment and
the operator leaves ``Deployment.spec.replicas`` alone; ``spec.replicas`` is ignored. When
autoscaling is turned off, a ``spec.replicas`` that was left untouched all along is an old
value: applying it would jump from what the autoscaler runs to whatever was asked before.
So the operator first writes the autoscaler's current count into ``spec.replicas`` (the
hand-back), keeping the HPA until the spec shows that count, so a pass that still sees
the old copy of the Microservice cannot take the stale value for current; only then is the
HPA deleted and the spec in charge. A ``spec.replicas`` changed together with (or while)
turning autoscaling off is a deliberate choice and is applied as it is.

To tell the two apart, the HPA carries the ``spec.replicas`` it took over from in an
annotation; the HPA exists exactly as long as the answer matters.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from gale_operator.core.spec import IntOrString, MicroserviceSpec

#: On the HPA: the ``spec.replicas`` that was in the spec while the HPA was in charge.
SPEC_REPLICAS_ANNOTATION = "gale.dev/spec-replicas"


@dataclasses.dataclass(frozen=True)
class HandOver:
    """How this pass sets replicas.

    ``replicas`` is the ``spec.replicas`` to render with; ``keep_autoscaler`` keeps the
    observed HPA although the spec no longer wants one; ``write_spec_replicas`` is the count
    to write into the Microservice's ``spec.replicas`` first.
    """

    replicas: int
    keep_autoscaler: bool = False
    write_spec_replicas: int | None = None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def hand_over(
    spec: MicroserviceSpec,
    *,
    autoscaler: Mapping[str, Any] | None,
    deployment: Mapping[str, Any] | None,
) -> HandOver:
    """Decide from the spec, our observed HPA and the Deployment's current ``spec.replicas``."""
    if spec.autoscaling.enabled or autoscaler is None:
        return HandOver(spec.replicas)
    running = _int(((deployment or {}).get("spec") or {}).get("replicas"))
    notes = (autoscaler.get("metadata") or {}).get("annotations") or {}
    ignored = _int(notes.get(SPEC_REPLICAS_ANNOTATION))
    deliberate = ignored is not None and spec.replicas != ignored
    if running is None or running == spec.replicas or deliberate:
        return HandOver(spec.replicas)
    return HandOver(running, keep_autoscaler=True, write_spec_replicas=running)


def autoscaler_annotations(spec: MicroserviceSpec) -> dict[str, str]:
    return {SPEC_REPLICAS_ANNOTATION: str(spec.replicas)}


def _scaled(value: IntOrString, pods: int) -> int:
    """An int-or-percent against ``pods``, rounded up as the disruption controller does."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * pods / 100)
    return int(value)


def disruption_budget(spec: MicroserviceSpec) -> dict[str, IntOrString]:
    """The PDB's budget: the spec's, unless that would forbid every voluntary eviction.

    A budget is checked at the fewest pods the workload may run (``replicas``, or the
    autoscaler's minimum; at least one): both ``minAvailable`` forms block more as the
    count shrinks, and ``maxUnavailable`` blocks only at zero. A blocking budget (e.g.
    ``minAvailable: 1`` at one replica) would stall every node drain, so it is replaced by
    ``maxUnavailable: 1``: one pod at a time may go, which at one replica is the outage
    that running a single replica already accepts.
    """
    pods = max(spec.autoscaling.min_replicas if spec.autoscaling.enabled else spec.replicas, 1)
    wanted = spec.disruption
    if wanted.min_available is not None:
        if _scaled(wanted.min_available, pods) < pods:
            return {"minAvailable": wanted.min_available}
    elif wanted.max_unavailable is not None and _scaled(wanted.max_unavailable, pods) >= 1:
        return {"maxUnavailable": wanted.max_unavailable}
    return {"maxUnavailable": 1}
