"""The real operator process against the emulated API server, end to end.

The test plays the parts of a cluster the emulator does not: the Deployment controller
(writing Deployment status) and the user (kubectl apply/scale/delete).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from typing import Any

import pytest
import requests
from gale_operator.core import kinds

from tests.operator.cluster import (
    MS,
    SAMPLE_PATH,
    Api,
    load_yaml,
    permissions_used,
    wait_until,
)

_namespaces = itertools.count()


@pytest.fixture
def ns() -> str:
    return f"e2e-{next(_namespaces)}"


def make_secret(api: Api, ns: str, *, name: str = "gale-mongodb") -> None:
    uri = base64.b64encode(b"mongodb://mongo:27017/?retryWrites=false").decode()
    api.post(f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": name}, "data": {"uri": uri}})


def make_microservice(api: Api, ns: str, **spec: Any) -> dict[str, Any]:
    body = copy.deepcopy(load_yaml(SAMPLE_PATH))
    body["metadata"]["namespace"] = ns
    body["spec"].update(spec)
    created: dict[str, Any] = api.post(f"{MS}/namespaces/{ns}/microservices", body)
    return created


def deployment(api: Api, ns: str) -> Any:
    return api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/gale")


def condition(api: Api, ns: str, type_: str) -> dict[str, Any] | None:
    ms = api.get(f"{MS}/namespaces/{ns}/microservices/gale") or {}
    found = [c for c in (ms.get("status") or {}).get("conditions") or [] if c["type"] == type_]
    return found[0] if found else None


def play_deployment_controller(api: Api, ns: str) -> None:
    """Report every wanted pod updated and available, as the Deployment controller would."""
    dep = deployment(api, ns)
    replicas = dep["spec"].get("replicas", 1)
    api.patch(
        f"/apis/apps/v1/namespaces/{ns}/deployments/gale/status",
        {
            "status": {
                "observedGeneration": dep["metadata"]["generation"],
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
            }
        },
    )


CHILDREN = {
    "configmap": "/api/v1/namespaces/{ns}/configmaps/gale-config",
    "service": "/api/v1/namespaces/{ns}/services/gale",
    "deployment": "/apis/apps/v1/namespaces/{ns}/deployments/gale",
    "pdb": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/gale",
}


def test_sample_creates_owned_children_and_becomes_ready(api: Api, ns: str) -> None:
    make_secret(api, ns)
    ms = make_microservice(api, ns)
    for path in CHILDREN.values():
        child = wait_until(lambda p=path: api.get(p.format(ns=ns)), what=path)
        [ref] = child["metadata"]["ownerReferences"]
        assert ref["uid"] == ms["metadata"]["uid"]
        assert ref["controller"] is True
    not_ready = wait_until(
        lambda: (c := condition(api, ns, "Ready")) and c["status"] == "False" and c
    )
    assert not_ready["reason"] == "ReplicasUnavailable"
    play_deployment_controller(api, ns)
    ready = wait_until(lambda: (c := condition(api, ns, "Ready")) and c["status"] == "True" and c)
    assert ready["reason"] == "MinimumReplicasAvailable"
    status = api.get(f"{MS}/namespaces/{ns}/microservices/gale")["status"]
    assert status["readyReplicas"] == 2
    assert status["replicas"] == 2
    assert status["version"] == "0.1.0"
    assert status["observedGeneration"] == 1
    assert status["selector"] == "gale.dev/microservice=gale"
    assert {c["type"] for c in status["conditions"]} >= {"Ready", "Progressing", "Degraded"}
    events = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    assert {"Created"} <= {e["reason"] for e in events}
    # The history of the object: its first status already reports the first pass's work
    # (no separate "Unknown" write: one status write fewer per object).
    stream = api.session.get(
        f"{api.base}{MS}/namespaces/{ns}/microservices",
        params={"watch": "true", "resourceVersion": "1", "timeoutSeconds": "0.2"},
        timeout=10,
    )
    statuses = [
        event["object"]["status"]
        for event in map(json.loads, stream.text.splitlines())
        if event["object"].get("status")
    ]
    first = {c["type"]: c for c in statuses[0]["conditions"]}
    assert (first["Ready"]["status"], first["Ready"]["reason"]) == ("False", "ReplicasUnavailable")


def test_scale_subresource_drives_the_deployment(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns)
    wait_until(lambda: deployment(api, ns))
    scale = api.patch(f"{MS}/namespaces/{ns}/microservices/gale/scale", {"spec": {"replicas": 5}})
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 5
    wait_until(lambda: deployment(api, ns)["spec"]["replicas"] == 5, what="scaled Deployment")

    def reasons():
        return {e["reason"] for e in api.get(f"/api/v1/namespaces/{ns}/events")["items"]}

    wait_until(lambda: "Scaled" in reasons(), what="a Scaled event")


def test_config_change_rolls_pods(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns)

    def annotations():
        return deployment(api, ns)["spec"]["template"]["metadata"]["annotations"]

    before = wait_until(lambda: deployment(api, ns) and annotations())["gale.dev/config-hash"]
    api.patch(
        f"{MS}/namespaces/{ns}/microservices/gale",
        {"spec": {"config": {"GALE_LOG_LEVEL": None, "GALE_X": "1"}}},
    )
    after = wait_until(lambda: annotations()["gale.dev/config-hash"] != before and annotations())
    assert after["gale.dev/config-hash"] != before
    config = api.get(f"/api/v1/namespaces/{ns}/configmaps/gale-config")
    assert config["data"] == {"GALE_X": "1"}  # the keys no longer in the spec are removed
    events = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    changed = [e["message"] for e in events if e["reason"] == "ConfigChanged"]
    assert changed == [
        "Changed ConfigMap gale-config keys ['GALE_LOG_LEVEL', 'GALE_X']; pods will roll"
    ]


def test_deleted_and_edited_children_are_restored(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns)
    original = wait_until(lambda: deployment(api, ns))
    api.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/gale")
    restored = wait_until(
        lambda: (
            (d := deployment(api, ns)) and d["metadata"]["uid"] != original["metadata"]["uid"] and d
        ),
        what="the Deployment to come back",
    )
    assert restored["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.1.0")
    api.patch(
        f"/api/v1/namespaces/{ns}/services/gale",
        {"spec": {"ports": [{"name": "x", "port": 1, "targetPort": 1}]}},
    )
    wait_until(
        lambda: api.get(f"/api/v1/namespaces/{ns}/services/gale")["spec"]["ports"][0]["port"] == 80,
        what="the hand-edited Service to be repaired",
    )


def test_missing_secret_degrades_then_recovers(api: Api, ns: str) -> None:
    make_microservice(api, ns)
    degraded = wait_until(
        lambda: (c := condition(api, ns, "Degraded")) and c["status"] == "True" and c,
        what="Degraded=True",
    )
    assert degraded["reason"] == "SecretNotFound"
    assert "gale-mongodb" in degraded["message"]
    assert deployment(api, ns) is None
    make_secret(api, ns)
    wait_until(lambda: deployment(api, ns), what="the Deployment after the Secret appeared")
    recovered = wait_until(
        lambda: (c := condition(api, ns, "Degraded")) and c["status"] == "False" and c,
        what="Degraded=False",
    )
    assert recovered["reason"] == "AsExpected"
    play_deployment_controller(api, ns)
    wait_until(
        lambda: (c := condition(api, ns, "Ready")) and c["status"] == "True",
        what="Ready=True once the pods run",
    )


def test_delete_releases_finalizer_and_removes_children(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns)
    path = f"{MS}/namespaces/{ns}/microservices/gale"
    wait_until(lambda: "gale.dev/finalizer" in (api.get(path)["metadata"].get("finalizers") or []))
    wait_until(lambda: all(api.get(p.format(ns=ns)) for p in CHILDREN.values()))
    api.delete(path)
    wait_until(lambda: api.get(path) is None, what="the Microservice to go")
    for child in CHILDREN.values():
        wait_until(lambda c=child: api.get(c.format(ns=ns)) is None, what=child)


def test_operator_metrics_are_served(cluster: tuple[Api, dict[str, Any]], ns: str) -> None:
    api, info = cluster
    make_secret(api, ns)
    make_microservice(api, ns)
    wait_until(lambda: condition(api, ns, "Ready"))
    url = f"http://127.0.0.1:{info['metrics_port']}/metrics"
    text = wait_until(
        lambda: (
            (t := requests.get(url, timeout=5).text)
            and 'gale_operator_reconciles_total{handler="reconcile",outcome="success"}' in t
            and t
        )
    )
    assert "gale_operator_reconcile_duration_seconds_bucket" in text
    assert 'gale_operator_microservices{condition="Ready"' in text
    assert "gale_operator_certificate_expiry_timestamp_seconds" in text
    health = requests.get(f"http://127.0.0.1:{info['health_port']}/healthz", timeout=5)
    assert health.status_code == 200


def test_missing_secret_key_is_reported(api: Api, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": "gale-mongodb"}, "data": {}})
    make_microservice(api, ns)
    degraded = wait_until(
        lambda: (c := condition(api, ns, "Degraded")) and c["status"] == "True" and c,
        what="Degraded=True",
    )
    assert degraded["reason"] == "SecretKeyNotFound"
    assert "'uri'" in degraded["message"]
    warnings = [
        e for e in api.get(f"/api/v1/namespaces/{ns}/events")["items"] if e["type"] == "Warning"
    ]
    assert [e["reason"] for e in warnings] == ["SecretKeyNotFound"]  # once, not per retry


def test_foreign_object_in_the_way_is_a_conflict_not_a_takeover(api: Api, ns: str) -> None:
    make_secret(api, ns)
    foreign = {"metadata": {"name": "gale"}, "spec": {"ports": [{"port": 1}]}}
    api.post(f"/api/v1/namespaces/{ns}/services", foreign)
    make_microservice(api, ns)
    degraded = wait_until(
        lambda: (c := condition(api, ns, "Degraded")) and c["status"] == "True" and c,
        what="Degraded=True",
    )
    assert degraded["reason"] == "ChildConflict"
    assert "Service" in degraded["message"]
    assert api.get(f"/api/v1/namespaces/{ns}/services/gale")["spec"]["ports"] == [{"port": 1}]


def test_autoscaled_replicas_are_left_to_the_hpa(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns, autoscaling={"enabled": True, "minReplicas": 2, "maxReplicas": 8})
    hpa_path = f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/gale"
    hpa = wait_until(lambda: api.get(hpa_path), what="the HPA")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gale"
    assert "replicas" not in wait_until(lambda: deployment(api, ns))["spec"]
    api.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/gale", {"spec": {"replicas": 6}})
    play_deployment_controller(api, ns)
    wait_until(
        lambda: (
            (api.get(f"{MS}/namespaces/{ns}/microservices/gale").get("status") or {}).get(
                "replicas"
            )
            == 6
        ),
        what="status.replicas from the HPA-scaled Deployment",
    )
    assert deployment(api, ns)["spec"]["replicas"] == 6  # several passes later: not fought
    api.patch(
        f"{MS}/namespaces/{ns}/microservices/gale", {"spec": {"autoscaling": {"enabled": False}}}
    )
    wait_until(lambda: api.get(hpa_path) is None, what="the HPA to be deleted")
    # The spec's replica count is in charge again, and the Deployment follows it.
    wait_until(
        lambda: (
            deployment(api, ns)["spec"]["replicas"]
            == api.get(f"{MS}/namespaces/{ns}/microservices/gale")["spec"]["replicas"]
        ),
        what="Deployment replicas to follow spec.replicas",
    )


def test_service_monitor_appears_once_its_crd_is_installed(api: Api, ns: str) -> None:
    make_secret(api, ns)
    make_microservice(api, ns)
    wait_until(lambda: deployment(api, ns))
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"plural": "servicemonitors", "kind": "ServiceMonitor"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    if (
        api.get(
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
        )
        is None
    ):
        api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    path = f"/apis/monitoring.coreos.com/v1/namespaces/{ns}/servicemonitors/gale"
    monitor = wait_until(lambda: api.get(path), what="the ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["metadata"]["ownerReferences"][0]["kind"] == "Microservice"


def test_every_request_the_operator_made_is_declared_in_kinds(
    cluster: tuple[Api, dict[str, Any]],
) -> None:
    """Runs last in this module: the RBAC the chart derives from ``kinds`` covers real use."""
    granted = {
        (access.group, access.resource, verb)
        for access in (*kinds.MANAGED_RESOURCES, *kinds.FRAMEWORK_RESOURCES)
        for verb in access.verbs
    }
    used = permissions_used(cluster[1]["access_log"])
    assert ("apps", "deployments", "patch") in used
    assert ("gale.dev", "microservices/status", "patch") in used
    assert used - granted == set()
