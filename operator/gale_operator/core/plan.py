"""One reconcile pass's plan: which spec to render, and the objects that renders to.

:func:`~gale_operator.core.desired.desired_objects` renders a spec; this module decides
*which* spec, from what the pass observed: the asked release or the restored last Ready one
(:mod:`~gale_operator.core.rollout`), with replicas handed back from the autoscaler
(:mod:`~gale_operator.core.scaling`). It then adds the records those decisions keep on the
children themselves.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from gale_operator.core import kinds
from gale_operator.core.desired import Manifest, desired_objects
from gale_operator.core.naming import Owner
from gale_operator.core.rollout import RolloutPlan, plan_rollout
from gale_operator.core.scaling import autoscaler_annotations, hand_over
from gale_operator.core.spec import MicroserviceSpec, parse_spec

Observed = Mapping[kinds.Kind, Mapping[str, Any] | None]
#: PodDisruptionBudget fields of which exactly one may be set.
BUDGET_FIELDS = ("minAvailable", "maxUnavailable")


@dataclasses.dataclass(frozen=True)
class Plan:
    """``spec`` is what is rendered; ``write_spec_replicas`` goes into the Microservice first."""

    spec: MicroserviceSpec
    objects: dict[kinds.Kind, Manifest | None]
    rollout: RolloutPlan
    write_spec_replicas: int | None


def plan_pass(
    raw_spec: Mapping[str, Any],
    *,
    owner: Owner,
    generation: int,
    observed: Observed,
    service_monitor_available: bool,
    now: datetime.datetime,
    reported_rollout: Mapping[str, Any] | None = None,
) -> Plan:
    """Raises :class:`~gale_operator.core.spec.SpecError` for a spec that cannot be rendered.

    ``reported_rollout`` is the last ``status.rollout``: what it says was Ready counts.
    """
    deployment = observed.get(kinds.DEPLOYMENT)
    autoscaler = observed.get(kinds.HPA)
    rollout = plan_rollout(
        raw_spec,
        owner=owner,
        generation=generation,
        deployment=deployment,
        now=now,
        reported=reported_rollout,
    )
    rendered = parse_spec(rollout.spec)
    handover = hand_over(rendered, autoscaler=autoscaler, deployment=deployment)
    spec = dataclasses.replace(rendered, replicas=handover.replicas)
    objects = desired_objects(
        spec, owner=owner, service_monitor_available=service_monitor_available
    )
    _annotate(objects[kinds.DEPLOYMENT], rollout.annotations(deployment))
    if handover.keep_autoscaler and autoscaler is not None:
        objects[kinds.HPA] = copy.deepcopy(dict(autoscaler))  # as it is: no change this pass
    else:
        _annotate(objects[kinds.HPA], autoscaler_annotations(spec))
    _switch_budget(objects[kinds.PDB], observed.get(kinds.PDB))
    return Plan(spec, objects, rollout, handover.write_spec_replicas)


def _annotate(manifest: Manifest | None, annotations: Mapping[str, str | None]) -> None:
    if manifest is not None:
        meta = manifest["metadata"]
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}


def _switch_budget(manifest: Manifest | None, observed: Mapping[str, Any] | None) -> None:
    """Clear the budget field the PDB has but no longer wants: both set is invalid."""
    if manifest is None or observed is None:
        return
    have = observed.get("spec") or {}
    want = manifest["spec"]
    for field in BUDGET_FIELDS:
        if field not in want and have.get(field) is not None:
            want[field] = None
