"""Scaling end to end: spec and scale subresource, zero, the autoscaler hand-over, the PDB.

The real operator runs against the emulated API server; the test plays the Deployment
controller (status) and the HorizontalPodAutoscaler (writing the Deployment's replicas).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.operator.cluster import MS, Api, wait_until
from tests.operator.test_e2e import (
    condition,
    deployment,
    make_microservice,
    make_secret,
)
from tests.operator.test_e2e import play_deployment_controller as play

HPA = "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/gale"
PDB = "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/gale"


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    return f"scaling-{request.node.name.removeprefix('test_').replace('_', '-')[:40]}"


def microservice(api: Api, ns: str) -> dict[str, Any]:
    return dict(api.get(f"{MS}/namespaces/{ns}/microservices/gale"))


def replicas(api: Api, ns: str) -> int | None:
    dep = deployment(api, ns)
    return dep["spec"].get("replicas") if dep else None


def scale(api: Api, ns: str, count: int) -> None:
    api.patch(f"{MS}/namespaces/{ns}/microservices/gale/scale", {"spec": {"replicas": count}})


def set_spec(api: Api, ns: str, **spec: Any) -> None:
    api.patch(f"{MS}/namespaces/{ns}/microservices/gale", {"spec": spec})


def test_scale_up_down_and_to_zero(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns)
    wait_until(lambda: deployment(api, ns), what="the Deployment")
    play(api, ns)
    wait_until(lambda: microservice(api, ns).get("status", {}).get("version") == "0.1.0")
    set_spec(api, ns, replicas=4)  # through the spec
    wait_until(lambda: replicas(api, ns) == 4, what="4 replicas")
    scale(api, ns, 1)  # through the scale subresource
    wait_until(lambda: replicas(api, ns) == 1, what="1 replica")
    play(api, ns)
    wait_until(lambda: microservice(api, ns)["status"].get("availableReplicas") == 1)
    got = api.get(f"{MS}/namespaces/{ns}/microservices/gale/scale")
    assert (got["spec"]["replicas"], got["status"]["replicas"]) == (1, 1)
    assert got["status"]["selector"] == "gale.dev/microservice=gale"
    scale(api, ns, 0)
    wait_until(lambda: replicas(api, ns) == 0, what="0 replicas")
    play(api, ns)
    ready = wait_until(
        lambda: (c := condition(api, ns, "Ready")) and c["reason"] == "ScaledToZero" and c,
        what="Ready ScaledToZero",
    )
    assert ready["status"] == "True"  # as asked; nothing serves, and the message says so
    assert "no pod runs" in ready["message"]
    status = wait_until(
        lambda: (s := microservice(api, ns)["status"])["availableReplicas"] == 0 and s,
        what="no pod available",
    )
    assert status["version"] == "0.1.0"  # the version that last ran
    assert condition(api, ns, "Degraded")["status"] == "False"
    pdb = api.get(PDB.format(ns=ns))
    assert pdb["spec"]["maxUnavailable"] == 1


def test_the_pdb_never_blocks_every_eviction(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns, replicas=1, disruption={"minAvailable": 1})

    def budget() -> dict[str, Any]:
        spec = (api.get(PDB.format(ns=ns)) or {}).get("spec") or {}
        return {k: spec[k] for k in ("minAvailable", "maxUnavailable") if spec.get(k) is not None}

    wait_until(lambda: budget() == {"maxUnavailable": 1}, what="maxUnavailable 1 at 1 replica")
    scale(api, ns, 3)
    wait_until(lambda: budget() == {"minAvailable": 1}, what="the spec's minAvailable at 3")
    scale(api, ns, 1)
    wait_until(lambda: budget() == {"maxUnavailable": 1}, what="relaxed again at 1 replica")


def test_autoscaling_on_then_off_hands_replicas_back_without_a_jump(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns, replicas=2)
    wait_until(lambda: replicas(api, ns) == 2, what="2 replicas")
    set_spec(api, ns, autoscaling={"enabled": True, "minReplicas": 2, "maxReplicas": 10})
    hpa = wait_until(lambda: api.get(HPA.format(ns=ns)), what="the HPA")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gale",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    # Be the autoscaler: scale the Deployment up; the operator must leave that alone.
    api.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/gale", {"spec": {"replicas": 7}})
    play(api, ns)
    wait_until(lambda: microservice(api, ns)["status"].get("replicas") == 7, what="status 7")
    assert replicas(api, ns) == 7
    assert microservice(api, ns)["spec"]["replicas"] == 2  # ignored while autoscaled

    seen: list[int | None] = []
    done = threading.Event()

    def watch_replicas() -> None:
        own = Api(api.base)  # a session of its own: requests sessions are not thread-safe
        while not done.is_set():
            seen.append(replicas(own, ns))

    watcher = threading.Thread(target=watch_replicas)
    watcher.start()
    try:
        set_spec(api, ns, autoscaling={"enabled": False})
        wait_until(lambda: api.get(HPA.format(ns=ns)) is None, what="the HPA to go")
        wait_until(lambda: microservice(api, ns)["spec"]["replicas"] == 7, what="spec.replicas 7")
    finally:
        done.set()
        watcher.join()
    assert seen
    assert set(seen) == {7}  # never the old 2, not even for a moment
    events = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    assert "ReplicasHandedBack" in {e["reason"] for e in events}
    set_spec(api, ns, replicas=3)  # the spec is in charge again
    wait_until(lambda: replicas(api, ns) == 3, what="3 replicas from the spec")


def test_a_deliberate_count_when_turning_autoscaling_off_is_applied(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns, replicas=2, autoscaling={"enabled": True, "minReplicas": 2})
    wait_until(lambda: api.get(HPA.format(ns=ns)), what="the HPA")
    api.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/gale", {"spec": {"replicas": 6}})
    wait_until(lambda: deployment(api, ns)["spec"].get("replicas") == 6)
    set_spec(api, ns, replicas=4, autoscaling={"enabled": False})
    wait_until(lambda: api.get(HPA.format(ns=ns)) is None, what="the HPA to go")
    wait_until(lambda: replicas(api, ns) == 4, what="the asked 4 replicas")
    assert microservice(api, ns)["spec"]["replicas"] == 4
