"""Rollouts end to end: the real operator against the emulated API server.

The test plays the Deployment controller and the kubelet by writing Deployment status:
pods updated and available, or stuck until the progress deadline is reported exceeded.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.operator.cluster import MS, Api, wait_until
from tests.operator.test_e2e import condition, deployment, make_microservice, make_secret

IMAGE = "ghcr.io/gale-dev/gale-service"


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    return f"rollout-{request.node.name.removeprefix('test_').replace('_', '-')[:40]}"


def play(api: Api, ns: str, *, ready: bool = True) -> None:
    """Be the Deployment controller: roll every pod out, or report the deadline exceeded."""
    dep = deployment(api, ns)
    want = dep["spec"].get("replicas", 1)
    progressing = (
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
        if ready
        else {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    )
    api.patch(
        f"/apis/apps/v1/namespaces/{ns}/deployments/gale/status",
        {
            "status": {
                "observedGeneration": dep["metadata"]["generation"],
                "replicas": want + (0 if ready else 1),
                "updatedReplicas": want if ready else 1,
                "readyReplicas": want,
                "availableReplicas": want,
                "conditions": [progressing],
            }
        },
    )


def image(api: Api, ns: str) -> str:
    return str(deployment(api, ns)["spec"]["template"]["spec"]["containers"][0]["image"])


def status(api: Api, ns: str) -> dict[str, Any]:
    return dict(api.get(f"{MS}/namespaces/{ns}/microservices/gale").get("status") or {})


def set_spec(api: Api, ns: str, **spec: Any) -> None:
    api.patch(f"{MS}/namespaces/{ns}/microservices/gale", {"spec": spec})


def phase_is(api: Api, ns: str, phase: str) -> dict[str, Any] | None:
    current = status(api, ns)
    return current if (current.get("rollout") or {}).get("phase") == phase else None


def running(api: Api, ns: str, version: str, **spec: Any) -> None:
    """Create the Microservice and roll ``version`` out until it is the last Ready one."""
    make_secret(api, ns)
    make_microservice(api, ns, image=f"{IMAGE}:{version}", **spec)
    wait_until(lambda: deployment(api, ns), what="the Deployment")
    play(api, ns)
    wait_until(
        lambda: (status(api, ns).get("rollout") or {}).get("lastReadyVersion") == version,
        what=f"{version} recorded as the last Ready version",
    )


def test_a_new_image_rolls_out_with_the_crs_strategy(api: Api, ns: str) -> None:
    running(api, ns, "0.1.0", rollout={"maxSurge": 1, "maxUnavailable": 0})
    assert status(api, ns)["version"] == "0.1.0"
    set_spec(api, ns, image=f"{IMAGE}:0.2.0")
    wait_until(lambda: image(api, ns).endswith(":0.2.0"), what="the new template")
    dep = deployment(api, ns)
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    rolling = wait_until(lambda: phase_is(api, ns, "Progressing"), what="phase Progressing")
    assert rolling["version"] == "0.1.0"  # what really runs until the new pods are out
    progressing = wait_until(lambda: condition(api, ns, "Progressing"))
    assert (progressing["status"], progressing["reason"]) == ("True", "RollingOut")
    assert "Rolling out 0.2.0" in progressing["message"]
    play(api, ns)
    done = wait_until(lambda: phase_is(api, ns, "Complete"), what="phase Complete")
    assert done["version"] == "0.2.0"
    assert done["rollout"]["lastReadyVersion"] == "0.2.0"
    assert condition(api, ns, "Degraded")["status"] == "False"


def test_a_missed_deadline_rolls_back_and_a_later_change_tries_again(api: Api, ns: str) -> None:
    running(api, ns, "0.1.0", config={"GALE_LOG_LEVEL": "INFO"})
    set_spec(api, ns, image=f"{IMAGE}:0.2.0", config={"GALE_LOG_LEVEL": "DEBUG"})
    wait_until(lambda: image(api, ns).endswith(":0.2.0"), what="the new template")
    play(api, ns, ready=False)
    wait_until(lambda: image(api, ns).endswith(":0.1.0"), what="the rollback to 0.1.0")
    config = api.get(f"/api/v1/namespaces/{ns}/configmaps/gale-config")
    assert config["data"] == {"GALE_LOG_LEVEL": "INFO"}  # the config is restored with it
    degraded = wait_until(
        lambda: (c := condition(api, ns, "Degraded")) and c["reason"] == "RolloutFailed" and c,
        what="Degraded RolloutFailed",
    )
    assert degraded["status"] == "True"
    assert "0.2.0" in degraded["message"]
    rollout = status(api, ns)["rollout"]
    assert rollout["failedVersion"] == "0.2.0"
    assert rollout["restoredVersion"] == "0.1.0"
    warnings = wait_until(
        lambda: [
            e
            for e in api.get(f"/api/v1/namespaces/{ns}/events")["items"]
            if e["reason"] == "RolloutFailed"
        ],
        what="the RolloutFailed Event",
    )
    assert warnings[0]["type"] == "Warning"
    play(api, ns)
    rolled_back = wait_until(lambda: phase_is(api, ns, "RolledBack"), what="phase RolledBack")
    assert rolled_back["version"] == "0.1.0"
    assert condition(api, ns, "Ready")["status"] == "True"
    assert image(api, ns).endswith(":0.1.0")  # held there, pass after pass

    set_spec(api, ns, replicas=3)  # scaling is no new attempt
    wait_until(lambda: deployment(api, ns)["spec"]["replicas"] == 3, what="scaled")
    assert image(api, ns).endswith(":0.1.0")

    set_spec(api, ns, image=f"{IMAGE}:0.3.0")
    wait_until(lambda: image(api, ns).endswith(":0.3.0"), what="a fresh attempt at 0.3.0")
    fresh = wait_until(lambda: phase_is(api, ns, "Progressing"), what="phase Progressing")
    assert "failedVersion" not in fresh["rollout"]
    play(api, ns)
    wait_until(lambda: phase_is(api, ns, "Complete"), what="0.3.0 complete")
    assert condition(api, ns, "Degraded")["status"] == "False"
    assert (
        len(
            [
                e
                for e in api.get(f"/api/v1/namespaces/{ns}/events")["items"]
                if e["reason"] == "RolloutFailed"
            ]
        )
        == 1
    )


def test_pause_holds_the_rollout_and_says_so(api: Api, ns: str) -> None:
    running(api, ns, "0.1.0")
    set_spec(api, ns, image=f"{IMAGE}:0.2.0", rollout={"paused": True})
    wait_until(
        lambda: deployment(api, ns)["spec"].get("paused") is True, what="a paused Deployment"
    )
    paused = wait_until(lambda: phase_is(api, ns, "Paused"), what="phase Paused")
    assert paused["version"] == "0.1.0"
    assert "spec.rollout.paused" in paused["rollout"]["message"]
    progressing = condition(api, ns, "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "RolloutPaused")
    set_spec(api, ns, rollout={"paused": False})
    wait_until(lambda: "paused" not in deployment(api, ns)["spec"], what="resumed")
    play(api, ns)
    done = wait_until(lambda: phase_is(api, ns, "Complete"), what="phase Complete")
    assert done["version"] == "0.2.0"
