"""Rollout decisions, pure: success, failure and rollback, fresh attempts, pause.

Each test walks a release history through :func:`plan_pass`, playing the Deployment
controller by giving the rendered Deployment a status, exactly as the API server would
hand it back on the next pass.
"""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import pytest
from gale_operator.core import kinds
from gale_operator.core.diff import spec_patch
from gale_operator.core.naming import Owner
from gale_operator.core.plan import Plan, plan_pass
from gale_operator.core.release import (
    FAILED_ANNOTATION,
    LAST_READY_ANNOTATION,
    RELEASE_ANNOTATION,
    attempt_of,
)
from gale_operator.core.rollout import Phase, report_rollout

NOW = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)

OWNER = Owner(name="app", namespace="ns", uid="u")
V1: dict[str, Any] = {
    "image": "r/app:1.0",
    "replicas": 3,
    "config": {"GALE_LOG_LEVEL": "INFO"},
    "mongodb": {"uriSecretRef": {"name": "db"}},
    "rollout": {"progressDeadlineSeconds": 60},
}
V2 = {**V1, "image": "r/app:2.0"}


def plan(
    spec: dict[str, Any],
    deployment: dict[str, Any] | None = None,
    gen: int = 1,
    *,
    reported: dict[str, Any] | None = None,
) -> Plan:
    observed = {kinds.DEPLOYMENT: deployment}
    return plan_pass(
        spec,
        owner=OWNER,
        generation=gen,
        observed=observed,
        service_monitor_available=False,
        now=NOW,
        reported_rollout=reported,
    )


def applied(p: Plan, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Deployment after the pass's patch: new generation when the template changed."""
    dep = copy.deepcopy(p.objects[kinds.DEPLOYMENT])
    assert dep is not None
    notes = dep["metadata"]["annotations"]
    dep["metadata"]["annotations"] = {k: v for k, v in notes.items() if v is not None}
    generation = 1
    status: dict[str, Any] = {}
    if before is not None:
        generation = before["metadata"]["generation"]
        status = before["status"]
        if before["spec"]["template"] != dep["spec"]["template"]:
            generation += 1
    dep["metadata"]["generation"] = generation
    dep["status"] = status
    return dep


def controller(
    dep: dict[str, Any], *, ready: bool = True, deadline: bool = False
) -> dict[str, Any]:
    """Play the Deployment controller: all pods updated and available, or stuck."""
    dep = copy.deepcopy(dep)
    want = dep["spec"].get("replicas", 1)
    dep["status"] = {
        "observedGeneration": dep["metadata"]["generation"],
        "replicas": want,
        "updatedReplicas": want if ready else 1,
        "readyReplicas": want if ready else 0,
        "availableReplicas": want if ready else 0,
        "conditions": [
            {
                "type": "Progressing",
                "status": "False" if deadline else "True",
                "reason": "ProgressDeadlineExceeded" if deadline else "NewReplicaSetAvailable",
            }
        ],
    }
    return dep


def image_of(p: Plan) -> str:
    dep = p.objects[kinds.DEPLOYMENT]
    assert dep is not None
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def released(v1: dict[str, Any] = V1) -> dict[str, Any]:
    """A Deployment that has rolled ``v1`` out and recorded it as the last Ready release."""
    first = controller(applied(plan(v1)))
    again = plan(v1, first)
    assert again.rollout.last_ready is not None
    return applied(again, first)


def failed_v2(v2: dict[str, Any] = V2) -> tuple[Plan, dict[str, Any]]:
    """v1 Ready, v2 asked and stuck past its deadline; returns the rollback pass and result."""
    v1_dep = released()
    rolling = applied(plan(v2, v1_dep, gen=2), v1_dep)
    stuck = controller(rolling, ready=False, deadline=True)
    rollback = plan(v2, stuck, gen=2)
    return rollback, applied(rollback, stuck)


def test_a_fresh_release_rolls_out_and_becomes_the_last_ready_one() -> None:
    first = plan(V1)
    assert image_of(first) == "r/app:1.0"
    assert first.rollout.last_ready is None
    report = report_rollout(first.rollout, applied(first), previous=None)
    assert report.phase is Phase.PROGRESSING
    [progressing] = report.conditions
    assert (progressing.status, progressing.reason) == ("True", "RollingOut")
    assert "Rolling out 1.0" in progressing.message
    done = controller(applied(first))
    settled = plan(V1, done)
    assert settled.rollout.last_ready is not None
    assert settled.rollout.last_ready.version == "1.0"
    desired = settled.objects[kinds.DEPLOYMENT]
    assert desired is not None
    notes = desired["metadata"]["annotations"]
    assert LAST_READY_ANNOTATION not in notes  # the Deployment it runs is the record for now
    assert not spec_patch(desired, done)  # becoming Ready costs no Deployment write
    assert (
        json.loads(notes[RELEASE_ANNOTATION])["templateHash"]
        == settled.rollout.target.template_hash
    )
    report = report_rollout(settled.rollout, done, previous=None)
    assert report.phase is Phase.COMPLETE
    assert [(c.type, c.reason) for c in report.conditions] == [("Progressing", "RolloutComplete")]
    assert report.status["lastReadyVersion"] == "1.0"
    assert "failedVersion" not in report.status


def test_the_next_template_change_records_the_last_ready_release() -> None:
    v1_dep = released()
    rolling = plan(V2, v1_dep, gen=2)
    notes = rolling.objects[kinds.DEPLOYMENT]["metadata"]["annotations"]  # type: ignore[index]
    record = json.loads(notes[LAST_READY_ANNOTATION])
    assert (record["version"], record["spec"]["image"]) == ("1.0", "r/app:1.0")
    assert json.loads(notes[RELEASE_ANNOTATION])["spec"]["image"] == "r/app:2.0"


def test_the_status_remembers_a_ready_release_the_deployment_no_longer_shows() -> None:
    """v1 was Ready, then lost pods; v2 is asked and stuck: v1 is still what to restore."""
    v1_dep = released()
    reported = report_rollout(plan(V1, v1_dep).rollout, v1_dep, previous=None).status
    degraded = controller(v1_dep, ready=False)
    rolling = applied(plan(V2, degraded, gen=2, reported=reported), degraded)
    stuck = controller(rolling, ready=False, deadline=True)
    rollback = plan(V2, stuck, gen=2, reported=reported)
    assert rollback.rollout.newly_failed
    assert image_of(rollback) == "r/app:1.0"


def test_a_status_naming_another_template_is_no_memory() -> None:
    stuck = controller(applied(plan(V1)), ready=False, deadline=True)
    failed = plan(V1, stuck, reported={"lastReadyTemplateHash": "0123456789ab"})
    assert failed.rollout.last_ready is None
    assert failed.rollout.newly_failed


def test_the_template_hash_is_that_of_the_rendered_template() -> None:
    p = plan(V1)
    other = plan({**V1, "config": {"GALE_LOG_LEVEL": "DEBUG"}})
    assert p.rollout.target.template_hash != other.rollout.target.template_hash
    assert (
        plan({**V1, "replicas": 7}).rollout.target.template_hash == p.rollout.target.template_hash
    )


def test_a_missed_deadline_rolls_back_to_the_last_ready_release() -> None:
    rollback, after = failed_v2()
    assert rollback.rollout.newly_failed
    assert image_of(rollback) == "r/app:1.0"
    warning = rollback.rollout.warning
    assert warning is not None
    assert warning.reason == "RolloutFailed"
    assert "2.0" in warning.message
    assert "1.0" in warning.message
    assert "60s" in warning.message
    config = rollback.objects[kinds.CONFIGMAP]
    assert config is not None
    assert config["data"] == {"GALE_LOG_LEVEL": "INFO"}
    report = report_rollout(rollback.rollout, after, previous=None)
    assert report.phase is Phase.ROLLING_BACK
    by_type = {c.type: c for c in report.conditions}
    assert (by_type["Degraded"].status, by_type["Degraded"].reason) == ("True", "RolloutFailed")
    assert by_type["Progressing"].reason == "RollingBack"
    assert report.status["failedVersion"] == "2.0"
    assert report.status["restoredVersion"] == "1.0"
    assert report.status["failedGeneration"] == 2
    assert report.status["failedAt"] == "2026-01-01T12:00:00Z"


def test_the_rollback_completes_and_holds_without_a_second_warning() -> None:
    _, after = failed_v2()
    restored = controller(after)
    held = plan(V2, restored, gen=2)
    assert image_of(held) == "r/app:1.0"
    assert not held.rollout.newly_failed
    assert held.rollout.warning is None
    report = report_rollout(held.rollout, restored, previous=None)
    assert report.phase is Phase.ROLLED_BACK
    by_type = {c.type: c for c in report.conditions}
    assert by_type["Degraded"].reason == "RolloutFailed"
    assert "restored the last Ready version 1.0" in by_type["Degraded"].message
    assert by_type["Progressing"].reason == "RolledBack"


@pytest.mark.parametrize(
    "change",
    [{"replicas": 9}, {"autoscaling": {"enabled": True}}, {"disruption": {"minAvailable": 1}}],
)
def test_scaling_is_no_new_attempt(change: dict[str, Any]) -> None:
    _, after = failed_v2()
    held = plan({**V2, **change}, controller(after), gen=3)
    assert image_of(held) == "r/app:1.0"
    assert held.rollout.failed is not None


@pytest.mark.parametrize(
    "change",
    [
        {"image": "r/app:2.1"},
        {"image": "r/app:2.0", "config": {"GALE_LOG_LEVEL": "DEBUG"}},
        {"rollout": {"progressDeadlineSeconds": 600}},
    ],
)
def test_a_later_spec_change_starts_a_fresh_attempt(change: dict[str, Any]) -> None:
    _, after = failed_v2()
    restored = controller(after)
    fresh = plan({**V2, **change}, restored, gen=3)
    assert fresh.rollout.failed is None
    assert image_of(fresh) == change.get("image", "r/app:2.0")
    notes = fresh.objects[kinds.DEPLOYMENT]["metadata"]["annotations"]  # type: ignore[index]
    assert notes[FAILED_ANNOTATION] is None  # removed from the Deployment
    previous = report_rollout(plan(V2, restored, gen=2).rollout, restored, previous=None).status
    report = report_rollout(fresh.rollout, applied(fresh, restored), previous=previous)
    assert report.phase is Phase.PROGRESSING
    assert report.status["failedVersion"] is None  # cleared in status too
    assert report.status["restoredVersion"] is None


def test_a_fresh_attempt_that_succeeds_becomes_the_last_ready_release() -> None:
    _, after = failed_v2()
    v3 = {**V2, "image": "r/app:3.0"}
    fresh = plan(v3, controller(after), gen=3)
    done = controller(applied(fresh, controller(after)))
    settled = plan(v3, done, gen=3)
    assert settled.rollout.last_ready is not None
    assert settled.rollout.last_ready.version == "3.0"


def test_the_first_release_failing_has_nothing_to_restore() -> None:
    stuck = controller(applied(plan(V1)), ready=False, deadline=True)
    failed = plan(V1, stuck)
    assert failed.rollout.newly_failed
    assert image_of(failed) == "r/app:1.0"
    report = report_rollout(failed.rollout, stuck, previous=None)
    assert report.phase is Phase.FAILED
    [degraded] = report.conditions
    assert "no earlier Ready version" in degraded.message
    assert "restoredVersion" not in report.status


def test_a_restore_that_is_stuck_too_is_reported_not_retried() -> None:
    _, after = failed_v2()
    stuck_again = controller(after, ready=False, deadline=True)
    held = plan(V2, stuck_again, gen=2)
    assert image_of(held) == "r/app:1.0"
    assert not held.rollout.newly_failed
    report = report_rollout(held.rollout, stuck_again, previous=None)
    assert report.phase is Phase.FAILED
    by_type = {c.type: c for c in report.conditions}
    assert "makes no progress either" in by_type["Degraded"].message


def test_a_late_success_of_a_failed_release_clears_the_failure() -> None:
    stuck = controller(applied(plan(V1)), ready=False, deadline=True)
    failed = applied(plan(V1, stuck), stuck)
    recovered = plan(V1, controller(failed))
    assert recovered.rollout.failed is None
    assert recovered.rollout.last_ready is not None


@pytest.mark.parametrize(
    ("caught_up", "paused", "same_as_ready"),
    [(False, False, False), (True, True, False), (True, False, True)],
    ids=["status-not-caught-up", "paused", "stalled-scale-up-of-the-ready-release"],
)
def test_a_deadline_is_not_always_a_failed_release(
    caught_up: bool, paused: bool, same_as_ready: bool
) -> None:
    v1_dep = released()
    reported = report_rollout(plan(V1, v1_dep).rollout, v1_dep, previous=None).status
    asked = V1 if same_as_ready else V2
    if paused:
        asked = {**asked, "rollout": {**asked["rollout"], "paused": True}}
    dep = controller(applied(plan(asked, v1_dep, gen=2), v1_dep), ready=False, deadline=True)
    if not caught_up:
        dep["status"]["observedGeneration"] -= 1
    p = plan(asked, dep, gen=2, reported=reported)
    assert not p.rollout.newly_failed
    assert p.rollout.failed is None
    report = report_rollout(p.rollout, dep, previous=None)
    assert "RollingOut" not in {c.reason for c in report.conditions}  # the plain verdict stands


def test_pause_holds_and_says_so() -> None:
    v1_dep = released()
    paused = {**V2, "rollout": {**V2["rollout"], "paused": True}}
    p = plan(paused, v1_dep, gen=2)
    dep = p.objects[kinds.DEPLOYMENT]
    assert dep is not None
    assert dep["spec"]["paused"] is True
    report = report_rollout(p.rollout, applied(p, v1_dep), previous=None)
    assert report.phase is Phase.PAUSED
    [progressing] = report.conditions
    assert (progressing.type, progressing.status, progressing.reason) == (
        "Progressing",
        "False",
        "RolloutPaused",
    )
    assert "2.0" in progressing.message


def test_zero_replicas_prove_nothing() -> None:
    v0 = {**V1, "replicas": 0}
    done = controller(applied(plan(v0)))
    assert plan(v0, done).rollout.last_ready is None


@pytest.mark.parametrize("garbage", ["", "{", "[1]", '{"version": "x"}', '{"a": 1}'])
def test_unreadable_records_are_no_memory(garbage: str) -> None:
    dep = released()
    dep["metadata"]["annotations"] = {
        LAST_READY_ANNOTATION: garbage,
        FAILED_ANNOTATION: garbage,
        RELEASE_ANNOTATION: garbage,
    }
    p = plan(V2, dep, gen=2)
    assert p.rollout.last_ready is None
    assert p.rollout.failed is None
    assert image_of(p) == "r/app:2.0"


def test_attempts_ignore_scaling_and_pausing_only() -> None:
    base = attempt_of(V2)
    assert attempt_of({**V2, "replicas": 1, "disruption": {"maxUnavailable": 2}}) == base
    assert attempt_of({**V2, "rollout": {**V2["rollout"], "paused": True}}) == base
    assert attempt_of({**V2, "image": "r/app:2.1"}) != base
    assert attempt_of({**V2, "rollout": {"progressDeadlineSeconds": 61}}) != base


def test_scaling_a_rolled_back_release_is_no_rollback() -> None:
    _, after = failed_v2()
    restored = controller(after)
    scaled = plan({**V2, "replicas": 5}, restored, gen=3)
    dep = applied(scaled, restored)
    dep["status"] = {**restored["status"], "observedGeneration": dep["metadata"]["generation"]}
    assert dep["spec"]["replicas"] == 5
    report = report_rollout(scaled.rollout, dep, previous=None)
    assert report.phase is Phase.ROLLED_BACK  # 3 of 5 pods so far, every one restored


def test_a_retry_that_changes_no_template_is_judged_afresh() -> None:
    stuck = controller(applied(plan(V1)), ready=False, deadline=True)
    failed = applied(plan(V1, stuck), stuck)
    longer = {**V1, "rollout": {"progressDeadlineSeconds": 900}}
    retry = plan(longer, failed, gen=2)
    assert retry.rollout.failed is None
    assert not retry.rollout.newly_failed  # the old verdict was about the old attempt
    dep = applied(retry, failed)
    assert dep["spec"]["progressDeadlineSeconds"] == 900
    dep["status"] = {**dep["status"], "observedGeneration": dep["metadata"]["generation"]}
    assert plan(longer, dep, gen=2).rollout.newly_failed  # this attempt's own verdict counts
