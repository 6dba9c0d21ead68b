"""A Microservice's status, derived from what its Deployment reports.

Pure: given the observed Deployment, the last status and any problem the reconcile hit,
it returns the new status. Rollout logic (e.g. automatic rollback) can extend
:func:`rollout_conditions` without touching the rest.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from gale_operator.core import conditions
from gale_operator.core.conditions import Condition, Status
from gale_operator.core.naming import Owner
from gale_operator.core.spec import MicroserviceSpec


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why the reconcile could not reach the desired state: a condition reason and message."""

    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class Rollout:
    """The Deployment's progress as numbers, read once."""

    want: int
    replicas: int
    updated: int
    ready: int
    available: int
    caught_up: bool
    deadline_exceeded: bool

    @property
    def complete(self) -> bool:
        return self.caught_up and self.updated == self.want == self.replicas <= self.available


def read_rollout(spec: MicroserviceSpec, deployment: Mapping[str, Any]) -> Rollout:
    dep_spec = deployment.get("spec") or {}
    dep_status = deployment.get("status") or {}
    want = int(dep_spec.get("replicas", spec.replicas))
    generation = int((deployment.get("metadata") or {}).get("generation", 0))
    deadline = any(
        c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
        for c in dep_status.get("conditions") or []
    )
    return Rollout(
        want=want,
        replicas=int(dep_status.get("replicas", 0)),
        updated=int(dep_status.get("updatedReplicas", 0)),
        ready=int(dep_status.get("readyReplicas", 0)),
        available=int(dep_status.get("availableReplicas", 0)),
        caught_up=int(dep_status.get("observedGeneration", 0)) >= generation,
        deadline_exceeded=deadline,
    )


def rollout_conditions(rollout: Rollout | None, problem: Problem | None) -> list[Condition]:
    """Ready, Progressing and Degraded for the observed rollout and reconcile problem."""
    if rollout is None:
        ready = Condition(
            conditions.READY,
            Status.FALSE,
            "DeploymentMissing",
            "The Deployment does not exist yet.",
        )
        progressing = Condition(
            conditions.PROGRESSING, Status.TRUE, "Creating", "Creating the Deployment."
        )
    else:
        counts = f"{rollout.available}/{rollout.want} available, {rollout.updated} updated"
        if rollout.want == 0:
            # As asked and nothing wrong, like a Deployment's Available at 0: Ready. That no
            # pod serves is in availableReplicas and the message.
            ready = Condition(
                conditions.READY,
                Status.TRUE,
                "ScaledToZero",
                "Scaled to zero by spec.replicas: no pod runs and requests fail until scaled up.",
            )
        elif rollout.available >= rollout.want:
            ready = Condition(conditions.READY, Status.TRUE, "MinimumReplicasAvailable", counts)
        else:
            ready = Condition(conditions.READY, Status.FALSE, "ReplicasUnavailable", counts)
        if rollout.deadline_exceeded:
            progressing = Condition(
                conditions.PROGRESSING, Status.FALSE, "ProgressDeadlineExceeded", counts
            )
        elif rollout.complete:
            progressing = Condition(conditions.PROGRESSING, Status.FALSE, "RolloutComplete", counts)
        else:
            progressing = Condition(conditions.PROGRESSING, Status.TRUE, "RollingOut", counts)
    if problem is not None:
        degraded = Condition(conditions.DEGRADED, Status.TRUE, problem.reason, problem.message)
        progressing = Condition(
            conditions.PROGRESSING, Status.FALSE, problem.reason, problem.message
        )
        if rollout is None:
            ready = Condition(conditions.READY, Status.FALSE, problem.reason, problem.message)
    elif rollout is not None and rollout.deadline_exceeded:
        degraded = Condition(
            conditions.DEGRADED,
            Status.TRUE,
            "ProgressDeadlineExceeded",
            "The rollout made no progress within spec.rollout.progressDeadlineSeconds.",
        )
    else:
        degraded = Condition(conditions.DEGRADED, Status.FALSE, "AsExpected", "")
    return [ready, progressing, degraded]


def desired_status(
    spec: MicroserviceSpec,
    *,
    owner: Owner,
    generation: int,
    deployment: Mapping[str, Any] | None,
    previous: Mapping[str, Any],
    problem: Problem | None,
    now: datetime.datetime,
    overrides: Sequence[Condition] = (),
) -> dict[str, Any]:
    """The full status the operator owns; fields it does not own are not mentioned.

    ``overrides`` (the rollout's verdict, e.g. Degraded ``RolloutFailed``) replace the
    plain conditions of their type unless a reconcile problem speaks first. ``version`` is
    what the pods run: it moves once every wanted pod runs the rendered ``spec`` and stays
    with the last one that ran while scaled to zero.
    """
    rollout = read_rollout(spec, deployment) if deployment is not None else None
    version = previous.get("version")
    if rollout is not None and rollout.complete and rollout.want > 0 and problem is None:
        version = spec.version
    found = {c.type: c for c in rollout_conditions(rollout, problem)}
    if problem is None:
        found.update({c.type: c for c in overrides})
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "replicas": rollout.replicas if rollout else 0,
        "readyReplicas": rollout.ready if rollout else 0,
        "availableReplicas": rollout.available if rollout else 0,
        "selector": owner.selector_string,
        "conditions": conditions.upsert_all(
            previous.get("conditions") or conditions.initial(generation=generation, now=now),
            found.values(),
            generation=generation,
            now=now,
        ),
    }
    if version is not None:
        status["version"] = version
    return status
