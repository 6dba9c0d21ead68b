"""Operators that die: a peered standby takes over; a restarted one converges.

The chart runs two replicas with ``--peering``; these tests run the same against the
emulator: the peering CRDs and object as the chart ships them, two real operator processes,
the active one killed with SIGKILL (no goodbye in the peering object). Without the CRD or
the object, ``--peering`` refuses to start with one line instead of pausing silently. And an
operator killed in the middle of a pass leaves nothing its successor cannot finish.
"""

from __future__ import annotations

import pathlib
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from tests.operator.cluster import (
    CRD_PATH,
    MS,
    ROOT,
    Api,
    load_yaml,
    start_apiserver,
    start_operator,
    stop,
    wait_until,
)
from tests.operator.test_e2e import make_secret, play_deployment_controller
from tests.ports import wait_for_port

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
PEERING_CRDS = [
    ROOT / "helm" / "gale" / "crds" / f"{plural}.kopf.dev.yaml"
    for plural in ("clusterkopfpeerings", "kopfpeerings")
]
PEERINGS = "/apis/kopf.dev/v1/clusterkopfpeerings"
LIFETIME = 3


@pytest.fixture
def emulator(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, Api]]:
    server, api = start_apiserver(tmp_path)
    try:
        api.post(CRDS, load_yaml(CRD_PATH))
        yield tmp_path, api
    finally:
        stop(server)


def refusal(workdir: pathlib.Path) -> tuple[int, list[str]]:
    out = workdir / "refusal.log"
    with out.open("wb") as log:
        operator, _ = start_operator(workdir, "--peering", "gale", log=log)
        code = operator.wait(timeout=60)
    return code, out.read_text().strip().splitlines()


def test_peering_without_its_crd_or_object_is_a_one_line_refusal(
    emulator: tuple[pathlib.Path, Api],
) -> None:
    workdir, api = emulator
    code, lines = refusal(workdir)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("gale-operator: error: --peering gale needs kopf's peering CRD")
    assert "clusterkopfpeerings.kopf.dev" in lines[0]
    for path in PEERING_CRDS:
        api.post(CRDS, load_yaml(path))
    code, lines = refusal(workdir)
    assert (code, len(lines)) == (2, 1), lines
    assert "no ClusterKopfPeering gale" in lines[0]


def reconciles(ports: dict[str, int]) -> float:
    text = requests.get(f"http://127.0.0.1:{ports['metrics_port']}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gale_operator_reconciles_total{") and 'handler="reconcile"' in line
    )


def make_named(api: Api, ns: str, name: str) -> None:
    body = load_yaml(ROOT / "operator" / "samples" / "microservice.yaml")
    body["metadata"].update(name=name, namespace=ns)
    api.post(f"{MS}/namespaces/{ns}/microservices", body)


def test_the_standby_takes_over_when_the_active_replica_dies(
    emulator: tuple[pathlib.Path, Api],
) -> None:
    workdir, api = emulator
    for path in PEERING_CRDS:
        api.post(CRDS, load_yaml(path))
    api.post(PEERINGS, {"metadata": {"name": "gale"}})
    args = ("--peering", "gale", "--peering-lifetime", str(LIFETIME), "--reconcile-interval", "1")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with (workdir / "a.log").open("wb") as log_a, (workdir / "b.log").open("wb") as log_b:
            first, first_ports = start_operator(workdir, *args, env={"POD_ID": "op-a"}, log=log_a)
            processes.append(first)

            def peers() -> set[str]:
                return set((api.get(f"{PEERINGS}/gale") or {}).get("status") or {})

            wait_until(lambda: "op-a" in peers(), timeout=30, what="op-a in the peering")
            second, second_ports = start_operator(workdir, *args, env={"POD_ID": "op-b"}, log=log_b)
            processes.append(second)
            wait_until(lambda: peers() == {"op-a", "op-b"}, timeout=30, what="both peers")
            wait_for_port(second_ports["health_port"])
            status = api.get(f"{PEERINGS}/gale")["status"]
            assert status["op-a"]["priority"] > status["op-b"]["priority"]  # the elder leads

            make_secret(api, "ha")
            make_named(api, "ha", "first")
            deployments = "/apis/apps/v1/namespaces/ha/deployments"
            wait_until(lambda: api.get(f"{deployments}/first"), what="first's Deployment")
            time.sleep(2)  # several passes: only the active replica makes them
            assert reconciles(first_ports) > 0
            assert reconciles(second_ports) == 0

            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            killed = time.monotonic()
            make_named(api, "ha", "second")
            wait_until(
                lambda: api.get(f"{deployments}/second"),
                timeout=LIFETIME + 15,
                what="the standby to take over",
            )
            took = time.monotonic() - killed
            assert reconciles(second_ports) > 0
            # Within the peering lifetime, plus a generous margin for a loaded CI machine.
            assert took < LIFETIME + 8, took
    finally:
        for process in processes:
            stop(process)


def test_an_operator_killed_mid_reconcile_converges_after_restart(
    emulator: tuple[pathlib.Path, Api],
) -> None:
    workdir, api = emulator
    make_secret(api, "restart")
    # The Deployment's create hangs: the first operator dies in the middle of its pass.
    slow = [{"method": "POST", "path": "/namespaces/restart/deployments$", "delay": 5, "count": 1}]
    api.post("/_emulator/faults", slow)
    children = {
        "configmap": "/api/v1/namespaces/restart/configmaps/gale-config",
        "service": "/api/v1/namespaces/restart/services/gale",
        "deployment": "/apis/apps/v1/namespaces/restart/deployments/gale",
        "pdb": "/apis/policy/v1/namespaces/restart/poddisruptionbudgets/gale",
    }
    with (workdir / "first.log").open("wb") as log:
        first, _ = start_operator(workdir, "--reconcile-interval", "1", log=log)
        try:
            make_named(api, "restart", "gale")
            wait_until(lambda: api.get(children["service"]), timeout=30, what="a pass under way")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            stop(first)
    api.session.delete(f"{api.base}/_emulator/faults", timeout=10)
    assert api.get(children["pdb"]) is None  # the pass really was cut short
    with (workdir / "second.log").open("wb") as log:
        second, _ = start_operator(workdir, "--reconcile-interval", "1", log=log)
        try:
            for path in children.values():
                wait_until(lambda p=path: api.get(p), timeout=30, what=path)
            play_deployment_controller(api, "restart")

            def ready() -> bool:
                ms = api.get(f"{MS}/namespaces/restart/microservices/gale") or {}
                found = (ms.get("status") or {}).get("conditions") or []
                return any(c["type"] == "Ready" and c["status"] == "True" for c in found)

            wait_until(ready, timeout=30, what="Ready after the restart")
            events = api.get("/api/v1/namespaces/restart/events")["items"]
            named = [
                child
                for e in events
                if e["reason"] == "Created"
                for child in e["message"].removeprefix("Created ").split(", ")
            ]
            assert len(named) == len(set(named)), named  # nothing announced (created) twice
            assert {"Deployment gale", "PodDisruptionBudget gale"} <= set(named)
        finally:
            stop(second)
