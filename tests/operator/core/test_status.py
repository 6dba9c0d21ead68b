"""Status from the observed Deployment and the reconcile's problem."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from gale_operator.core.naming import Owner
from gale_operator.core.spec import parse_spec
from gale_operator.core.status import Problem, desired_status

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
SPEC = parse_spec(
    {"image": "r/app:3.1", "replicas": 3, "mongodb": {"uriSecretRef": {"name": "db"}}}
)
OWNER = Owner(name="app", namespace="ns", uid="u")


def deployment(**status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": 4}, "spec": {"replicas": 3}, "status": status}


def conditions_of(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def status_for(
    dep: dict[str, Any] | None,
    problem: Problem | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return desired_status(
        SPEC,
        owner=OWNER,
        generation=7,
        deployment=dep,
        previous=previous or {},
        problem=problem,
        now=NOW,
    )


DONE = {
    "observedGeneration": 4,
    "replicas": 3,
    "updatedReplicas": 3,
    "readyReplicas": 3,
    "availableReplicas": 3,
}


@pytest.mark.parametrize(
    ("dep", "problem", "expected"),
    [
        (
            None,
            None,
            {
                "Ready": ("False", "DeploymentMissing"),
                "Progressing": ("True", "Creating"),
                "Degraded": ("False", "AsExpected"),
            },
        ),
        (
            deployment(**DONE),
            None,
            {
                "Ready": ("True", "MinimumReplicasAvailable"),
                "Progressing": ("False", "RolloutComplete"),
                "Degraded": ("False", "AsExpected"),
            },
        ),
        (
            deployment(**{**DONE, "observedGeneration": 3}),
            None,
            {
                "Ready": ("True", "MinimumReplicasAvailable"),
                "Progressing": ("True", "RollingOut"),
                "Degraded": ("False", "AsExpected"),
            },
        ),
        (
            deployment(
                replicas=3,
                availableReplicas=1,
                conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
            ),
            None,
            {
                "Ready": ("False", "ReplicasUnavailable"),
                "Progressing": ("False", "ProgressDeadlineExceeded"),
                "Degraded": ("True", "ProgressDeadlineExceeded"),
            },
        ),
        (
            None,
            Problem("SecretNotFound", "no db"),
            {
                "Ready": ("False", "SecretNotFound"),
                "Progressing": ("False", "SecretNotFound"),
                "Degraded": ("True", "SecretNotFound"),
            },
        ),
    ],
)
def test_conditions(
    dep: dict[str, Any] | None, problem: Problem | None, expected: dict[str, tuple[str, str]]
) -> None:
    assert conditions_of(status_for(dep, problem)) == expected


def test_counts_selector_generation_and_version() -> None:
    status = status_for(deployment(**DONE))
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert status["selector"] == "gale.dev/microservice=app"
    assert status["observedGeneration"] == 7
    assert status["version"] == "3.1"


def test_version_stays_at_the_last_complete_rollout() -> None:
    rolling = status_for(deployment(**{**DONE, "updatedReplicas": 1}), previous={"version": "3.0"})
    assert rolling["version"] == "3.0"
    assert "version" not in status_for(None)


def test_scaled_to_zero_is_ready_and_keeps_the_last_version() -> None:
    dep = {"metadata": {"generation": 1}, "spec": {"replicas": 0}, "status": {}}
    assert conditions_of(status_for(dep))["Ready"] == ("True", "ScaledToZero")
    assert status_for(dep, previous={"version": "3.0"})["version"] == "3.0"
