"""Scaling decisions, pure: the autoscaler hand-back and a PodDisruptionBudget that stays valid."""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest
from gale_operator.core import kinds
from gale_operator.core.naming import Owner
from gale_operator.core.plan import plan_pass
from gale_operator.core.scaling import (
    SPEC_REPLICAS_ANNOTATION,
    HandOver,
    disruption_budget,
    hand_over,
)
from gale_operator.core.spec import parse_spec

OWNER = Owner(name="app", namespace="ns", uid="u")
BASE: dict[str, Any] = {"image": "r/app:1.0", "mongodb": {"uriSecretRef": {"name": "db"}}}


def spec(**fields: Any) -> Any:
    return parse_spec({**BASE, **fields})


def hpa(spec_replicas: int | None) -> dict[str, Any]:
    notes = {} if spec_replicas is None else {SPEC_REPLICAS_ANNOTATION: str(spec_replicas)}
    return {"metadata": {"name": "app", "annotations": notes}, "spec": {"minReplicas": 2}}


def deployment(replicas: int | None) -> dict[str, Any]:
    return {"spec": {} if replicas is None else {"replicas": replicas}}


@pytest.mark.parametrize(
    ("enabled", "replicas", "autoscaler", "running", "expected"),
    [
        # The HPA is in charge: spec.replicas is only carried along.
        (True, 2, hpa(2), 8, HandOver(2)),
        # No autoscaler (any more): the spec is in charge.
        (False, 2, None, 8, HandOver(2)),
        # Turned off, spec.replicas untouched since: hand the autoscaler's 8 back first.
        (False, 2, hpa(2), 8, HandOver(8, keep_autoscaler=True, write_spec_replicas=8)),
        # Turned off with spec.replicas changed too: a deliberate value, applied as is.
        (False, 5, hpa(2), 8, HandOver(5)),
        # The spec already shows the autoscaler's count (e.g. after the hand-back write).
        (False, 8, hpa(2), 8, HandOver(8)),
        # An HPA without the record (older operator): do not risk the jump.
        (False, 2, hpa(None), 8, HandOver(8, keep_autoscaler=True, write_spec_replicas=8)),
        # The Deployment has no count to hand back.
        (False, 2, hpa(2), None, HandOver(2)),
    ],
    ids=["autoscaled", "manual", "hand-back", "deliberate", "handed-back", "no-record", "no-count"],
)
def test_hand_over(
    enabled: bool,
    replicas: int,
    autoscaler: dict[str, Any] | None,
    running: int | None,
    expected: HandOver,
) -> None:
    s = spec(replicas=replicas, autoscaling={"enabled": enabled})
    assert hand_over(s, autoscaler=autoscaler, deployment=deployment(running)) == expected


def _plan(raw: dict[str, Any], observed: dict[kinds.Kind, Any]) -> Any:
    return plan_pass(
        {**BASE, **raw},
        owner=OWNER,
        generation=1,
        observed=observed,
        service_monitor_available=False,
        now=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )


def test_the_plan_keeps_the_autoscaler_until_the_count_is_handed_back() -> None:
    observed_hpa = {**hpa(2), "status": {"currentReplicas": 8}}
    observed = {kinds.HPA: observed_hpa, kinds.DEPLOYMENT: deployment(8)}
    handing = _plan({"replicas": 2}, observed)
    assert handing.write_spec_replicas == 8
    assert handing.objects[kinds.HPA] == observed_hpa  # unchanged: no write, no delete
    assert handing.objects[kinds.DEPLOYMENT]["spec"]["replicas"] == 8
    done = _plan({"replicas": 8}, observed)
    assert done.write_spec_replicas is None
    assert done.objects[kinds.HPA] is None
    assert done.objects[kinds.DEPLOYMENT]["spec"]["replicas"] == 8


def test_the_autoscaler_records_the_spec_replicas_it_overrides() -> None:
    p = _plan({"replicas": 3, "autoscaling": {"enabled": True}}, {})
    assert p.objects[kinds.HPA]["metadata"]["annotations"] == {SPEC_REPLICAS_ANNOTATION: "3"}
    assert "replicas" not in p.objects[kinds.DEPLOYMENT]["spec"]


@pytest.mark.parametrize(
    ("replicas", "autoscaling", "disruption", "budget"),
    [
        (3, None, {"maxUnavailable": 1}, {"maxUnavailable": 1}),
        (1, None, {"maxUnavailable": 1}, {"maxUnavailable": 1}),
        (1, None, {"maxUnavailable": "10%"}, {"maxUnavailable": "10%"}),
        (5, None, {"maxUnavailable": 0}, {"maxUnavailable": 1}),
        (5, None, {"maxUnavailable": "0%"}, {"maxUnavailable": 1}),
        (3, None, {"minAvailable": 1}, {"minAvailable": 1}),
        (1, None, {"minAvailable": 1}, {"maxUnavailable": 1}),
        (0, None, {"minAvailable": 1}, {"maxUnavailable": 1}),
        (2, None, {"minAvailable": 2}, {"maxUnavailable": 1}),
        (2, None, {"minAvailable": "50%"}, {"minAvailable": "50%"}),
        (1, None, {"minAvailable": "50%"}, {"maxUnavailable": 1}),
        (9, None, {"minAvailable": "100%"}, {"maxUnavailable": 1}),
        (1, {"enabled": True, "minReplicas": 3}, {"minAvailable": 2}, {"minAvailable": 2}),
        (9, {"enabled": True, "minReplicas": 2}, {"minAvailable": 2}, {"maxUnavailable": 1}),
    ],
)
def test_disruption_budget(
    replicas: int,
    autoscaling: dict[str, Any] | None,
    disruption: dict[str, Any],
    budget: dict[str, Any],
) -> None:
    s = spec(replicas=replicas, autoscaling=autoscaling or {}, disruption=disruption)
    assert disruption_budget(s) == budget


def allowed_evictions(budget: dict[str, Any], pods: int) -> int:
    """What the disruption controller allows with ``pods`` healthy pods (it rounds up)."""

    def scaled(value: Any) -> int:
        if isinstance(value, str):
            return math.ceil(int(value.rstrip("%")) * pods / 100)
        return int(value)

    if "minAvailable" in budget:
        return max(pods - scaled(budget["minAvailable"]), 0)
    return max(min(scaled(budget["maxUnavailable"]), pods), 0)


BUDGETS = (
    [{"minAvailable": n} for n in (0, 1, 2, 5)]
    + [{"minAvailable": f"{p}%"} for p in (0, 10, 50, 90, 100)]
    + [{"maxUnavailable": n} for n in (0, 1, 3)]
    + [{"maxUnavailable": f"{p}%"} for p in (0, 1, 25, 100)]
)


@pytest.mark.parametrize("disruption", BUDGETS, ids=str)
@pytest.mark.parametrize("autoscaled", [False, True])
def test_every_replica_count_allows_an_eviction(
    disruption: dict[str, Any], autoscaled: bool
) -> None:
    for low in range(1, 12):
        scaling = {"enabled": autoscaled, "minReplicas": low, "maxReplicas": 40}
        budget = disruption_budget(spec(replicas=low, autoscaling=scaling, disruption=disruption))
        # Manually at ``low``; autoscaled anywhere from the minimum to the maximum.
        for pods in range(low, 41 if autoscaled else low + 1):
            assert allowed_evictions(budget, pods) >= 1, (budget, pods)


def test_switching_budget_fields_clears_the_old_one() -> None:
    observed_pdb = {"spec": {"minAvailable": 1, "selector": {}}}
    p = _plan({"replicas": 1, "disruption": {"minAvailable": 1}}, {kinds.PDB: observed_pdb})
    assert p.objects[kinds.PDB]["spec"]["maxUnavailable"] == 1
    assert p.objects[kinds.PDB]["spec"]["minAvailable"] is None  # merge patch removes it
    fresh = _plan({"replicas": 1, "disruption": {"minAvailable": 1}}, {})
    assert "minAvailable" not in fresh.objects[kinds.PDB]["spec"]  # nothing to clear on create
