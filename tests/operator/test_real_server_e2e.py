"""The operator against what a real API server does and the old emulator forgave.

Zero values dropped on storage (no churn in a quiet period), watch gaps answered 410 Gone
(deletions in the gap repaired), injected faults (retried, never parked, Events kept),
garbage collection (``--cascade=orphan`` keeps the children), one field manager.
"""

from __future__ import annotations

import copy
import itertools
import json
import pathlib
import time
from typing import Any

import pytest

from tests.operator.cluster import MS, SAMPLE_PATH, Api, emulated_cluster, load_yaml, wait_until
from tests.operator.test_e2e import (
    CHILDREN,
    condition,
    deployment,
    make_microservice,
    make_secret,
    play_deployment_controller,
)

_namespaces = itertools.count()
#: The cluster fixture's --reconcile-interval.
INTERVAL = 1.0
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
REPLICA_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")


@pytest.fixture
def ns() -> str:
    return f"real-{next(_namespaces)}"


def access(cluster: tuple[Api, dict[str, Any]]) -> list[dict[str, Any]]:
    log: pathlib.Path = cluster[1]["access_log"]
    return [json.loads(line) for line in log.read_text().splitlines()]


def operator_writes(entries: list[dict[str, Any]], ns: str) -> list[str]:
    return [
        f"{e['method']} {e['path']}"
        for e in entries
        if not e["agent"].startswith("python-requests")
        and e["method"] in WRITES
        and f"/namespaces/{ns}/" in e["path"]
    ]


def ready(api: Api, ns: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        if deployment(api, ns) is not None:
            play_deployment_controller(api, ns)
        found = condition(api, ns, "Ready")
        return found if found and found["status"] == "True" else None

    return wait_until(probe, what="Ready=True")


def events(api: Api, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    return items


def test_a_quiet_period_writes_nothing_and_posts_no_event(
    cluster: tuple[Api, dict[str, Any]], api: Api, ns: str
) -> None:
    """Zero values the server drops (paused: false, value: "", data: {}) are not re-sent."""
    make_secret(api, ns)
    make_microservice(
        api, ns, config={}, env=[{"name": "GALE_EMPTY", "value": ""}], rollout={"paused": False}
    )
    ready(api, ns)
    time.sleep(2 * INTERVAL)  # let the pass that saw Ready settle
    before, posted = len(access(cluster)), len(events(api, ns))
    time.sleep(4 * INTERVAL)
    assert operator_writes(access(cluster)[before:], ns) == []
    assert len(events(api, ns)) == posted
    reasons = [e["reason"] for e in events(api, ns)]
    assert reasons.count("Created") == 1, reasons  # one Event names all the children
    assert "Updated" not in reasons


def test_reaching_ready_writes_the_creates_two_statuses_and_one_event(
    cluster: tuple[Api, dict[str, Any]], api: Api, ns: str
) -> None:
    """No child is patched on the way to Ready: the last Ready release needs no write of its own."""
    before = len(access(cluster))
    make_secret(api, ns)
    make_microservice(api, ns)
    ready(api, ns)
    time.sleep(2 * INTERVAL)  # the pass that saw Ready, and a periodic one
    writes = operator_writes(access(cluster)[before:], ns)
    prefix = f"/namespaces/{ns}/"
    kinds = sorted(w.split(prefix)[1] for w in writes if w.startswith("POST"))
    assert kinds == sorted(
        ["configmaps", "services", "deployments", "poddisruptionbudgets", "events"]
    )
    patches = [w.split(prefix)[1] for w in writes if w.startswith("PATCH")]
    statuses = [p for p in patches if p.endswith("/status")]
    assert 1 <= len(statuses) <= 2, writes
    assert [p for p in patches if not p.endswith("/status")] == [
        "microservices/" + load_yaml(SAMPLE_PATH)["metadata"]["name"]  # kopf's finalizer
    ], writes
    assert not [w for w in writes if w.startswith(("PUT", "DELETE"))], writes


def delete_children_during_a_watch_gap(api: Api, ns: str) -> tuple[str, str]:
    """A Ready Microservice whose Deployment and ConfigMap are deleted while every watch is
    down; the resumes then get 410 Gone, so kopf relists. The two children's paths."""
    make_secret(api, ns)
    make_microservice(api, ns)
    ready(api, ns)
    path = CHILDREN["deployment"].format(ns=ns)
    config = CHILDREN["configmap"].format(ns=ns)
    api.post("/_emulator/watches/close", None)
    try:
        api.delete(path)
        api.delete(config)
    finally:
        api.post("/_emulator/watches/expire", None)
    return path, config


def test_a_child_deleted_during_a_watch_gap_is_restored(api: Api, ns: str) -> None:
    path, config = delete_children_during_a_watch_gap(api, ns)
    gone_at = time.monotonic()
    wait_until(lambda: api.get(path), timeout=10, what="the Deployment to be recreated")
    wait_until(lambda: api.get(config), timeout=10, what="the ConfigMap to be recreated")
    # One interval for the periodic check, plus a generous margin for a loaded CI machine.
    assert time.monotonic() - gone_at < INTERVAL + 4.0
    not_ready = condition(api, ns, "Ready")
    assert not_ready is not None
    ready(api, ns)


def test_a_watch_gap_is_repaired_when_the_relist_settles_not_a_whole_interval_later(
    tmp_path: pathlib.Path,
) -> None:
    """Every Deployment and ConfigMap went during the gap, so their relists bring no event:
    the Microservice's own relist starts the check, well before the 30 s periodic pass."""
    ns = "gap"
    with (
        (tmp_path / "processes.log").open("wb") as log,
        emulated_cluster(tmp_path, reconcile_interval=30.0, log=log) as (api, _),
    ):
        path, config = delete_children_during_a_watch_gap(api, ns)
        wait_until(lambda: api.get(path), timeout=12, what="the Deployment, before the tick")
        wait_until(lambda: api.get(config), timeout=5, what="the ConfigMap, before the tick")
        ready(api, ns)


def test_delete_with_orphan_propagation_keeps_the_children(api: Api, ns: str) -> None:
    make_secret(api, ns)
    ms = make_microservice(api, ns)
    ready(api, ns)
    response = api.session.delete(
        f"{api.base}{MS}/namespaces/{ns}/microservices/gale",
        json={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"},
        timeout=10,
    )
    assert response.status_code in {200, 202}
    wait_until(
        lambda: api.get(f"{MS}/namespaces/{ns}/microservices/gale") is None, what="the owner"
    )
    time.sleep(2 * INTERVAL)
    for path in CHILDREN.values():
        child = api.get(path.format(ns=ns))
        assert child is not None, path
        refs = child["metadata"].get("ownerReferences") or []
        assert ms["metadata"]["uid"] not in {ref["uid"] for ref in refs}


def test_delete_in_the_background_leaves_children_to_the_collector(
    cluster: tuple[Api, dict[str, Any]], api: Api, ns: str
) -> None:
    make_secret(api, ns)
    make_microservice(api, ns)
    ready(api, ns)
    before = len(access(cluster))
    api.delete(f"{MS}/namespaces/{ns}/microservices/gale")
    for path in CHILDREN.values():
        wait_until(lambda p=path: api.get(p.format(ns=ns)) is None, what=f"{path} collected")
    deletes = [w for w in operator_writes(access(cluster)[before:], ns) if w.startswith("DELETE")]
    assert deletes == []


def test_a_failed_finalizer_removal_is_retried_and_the_delete_completes(api: Api, ns: str) -> None:
    """kopf's own finalizer patch answered 500, 503, then 429 with Retry-After: kopf retries
    it (its request backoff), so the deletion is not left Terminating. (A 409 cannot answer
    it on a real server: it is a JSON patch guarded by a ``test`` of the resourceVersion,
    which fails with 422; kopf re-reads on 422.)"""
    make_secret(api, ns)
    make_microservice(api, ns)
    ready(api, ns)
    finalizer_patch = f"/namespaces/{ns}/microservices/gale$"
    api.post(
        "/_emulator/faults",
        [
            {"method": "PATCH", "path": finalizer_patch, "status": status, "count": 1}
            | ({"retryAfter": 1} if status == 429 else {})
            for status in (500, 503, 429)
        ],
    )
    try:
        api.delete(f"{MS}/namespaces/{ns}/microservices/gale")
        wait_until(
            lambda: api.get(f"{MS}/namespaces/{ns}/microservices/gale") is None,
            timeout=30,
            what="the Microservice gone",
        )
        fired = [rule["fired"] for rule in api.get("/_emulator/faults")]
    finally:
        api.request("DELETE", "/_emulator/faults")
    assert fired == [1, 1, 1]


def test_every_write_names_the_field_manager(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns)
    ready(api, ns)
    owned = [
        api.get(f"{MS}/namespaces/{ns}/microservices/gale"),
        *(api.get(path.format(ns=ns)) for path in CHILDREN.values()),
        *events(api, ns),
    ]
    for obj in owned:
        managers = {e["manager"] for e in obj["metadata"]["managedFields"]}
        managers.discard("python-requests")  # the test's own writes (create, Deployment status)
        assert managers == {"gale-operator"}, (obj["kind"], managers)


def test_faults_delay_but_never_break_or_duplicate(
    cluster: tuple[Api, dict[str, Any]], api: Api, ns: str
) -> None:
    """A fifth of the operator's writes fail (409/429/500); everything still converges."""
    names = [f"ms{i}" for i in range(8)]
    make_secret(api, ns)
    # 409 where a real server can answer it to these requests: creates and our merge patches,
    # not Events (generateName) nor kopf's finalizer JSON patches on the Microservice itself.
    anywhere = f"/namespaces/{ns}/"
    scopes = {409: f"{anywhere}(?!events)(?!microservices/[^/]+$)", 429: anywhere, 500: anywhere}
    rules = [
        {"method": m, "path": scopes[s], "agent": "^gale-operator/", "status": s, "rate": 0.07}
        | ({"retryAfter": 1} if s == 429 else {})
        for m in ("POST", "PATCH")
        for s in (409, 429, 500)
    ]
    rules[0]["seed"] = 14
    api.post("/_emulator/faults", rules)
    try:
        started = time.monotonic()
        for name in names:
            body = copy.deepcopy(load_yaml(SAMPLE_PATH))
            body["metadata"].update(name=name, namespace=ns)
            body["spec"]["replicas"] = 1
            api.post(f"{MS}/namespaces/{ns}/microservices", body)

        def all_ready() -> bool:
            done = 0
            for name in names:
                dep = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
                if dep is not None and not dep.get("status"):
                    counts = dict.fromkeys(REPLICA_COUNTS, 1)
                    generation = dep["metadata"]["generation"]
                    api.patch(
                        f"/apis/apps/v1/namespaces/{ns}/deployments/{name}/status",
                        {"status": {"observedGeneration": generation, **counts}},
                    )
                ms = api.get(f"{MS}/namespaces/{ns}/microservices/{name}") or {}
                found = (ms.get("status") or {}).get("conditions") or []
                done += {c["type"]: c["status"] for c in found}.get("Ready") == "True"
            return done == len(names)

        wait_until(all_ready, timeout=4 * INTERVAL + 20, what="all Ready under faults")
        took = time.monotonic() - started
        fired = sum(rule["fired"] for rule in api.get("/_emulator/faults"))
        assert fired > 0
        # kopf posts Events from one queue: a throttled one holds the rest back a moment.
        wait_until(
            lambda: {e["involvedObject"]["name"] for e in events(api, ns)} >= set(names),
            what="every Microservice's Created Event",
        )
        for name in names:  # every child created once: named in exactly one Created Event
            created = [
                child
                for e in events(api, ns)
                if e["reason"] == "Created" and e["involvedObject"]["name"] == name
                for child in e["message"].removeprefix("Created ").split(", ")
            ]
            assert sorted(created) == sorted(
                f"{kind} {name}{suffix}"
                for kind, suffix in (
                    ("ConfigMap", "-config"),
                    ("Service", ""),
                    ("Deployment", ""),
                    ("PodDisruptionBudget", ""),
                )
            )
        for name in names:
            api.delete(f"{MS}/namespaces/{ns}/microservices/{name}")
        wait_until(
            lambda: not api.get(f"{MS}/namespaces/{ns}/microservices")["items"],
            timeout=30,
            what="all deletes to complete",
        )
    finally:
        api.session.delete(f"{api.base}/_emulator/faults", timeout=10)
    assert took < 20
