"""The emulated API server behaves like a real one where kopf and the operator rely on it."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.operator.cluster import CRD_PATH, MS, ROOT, Api, load_yaml, wait_until
from tests.ports import free_port, wait_for_port

CM = "/api/v1/namespaces/emu/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    port = free_port()
    log = pathlib.Path(tmp_path_factory.mktemp("apiserver")) / "apiserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.operator.apiserver", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )
        try:
            wait_for_port(port)
            client = Api(f"http://127.0.0.1:{port}")
            client.post(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_yaml(CRD_PATH)
            )
            yield client
        finally:
            server.terminate()
            server.wait(timeout=10)


def raw(api: Api, method: str, path: str, body: Any = None, **headers: str) -> requests.Response:
    return api.session.request(
        method,
        api.base + path,
        data=json.dumps(body),
        timeout=10,
        headers={"Content-Type": "application/json", **headers},
    )


def watch(api: Api, path: str, **params: str) -> list[dict[str, Any]]:
    response = api.session.get(
        api.base + path, params={"watch": "true", "timeoutSeconds": "0.3", **params}, timeout=10
    )
    return [json.loads(line) for line in response.text.splitlines() if line]


def test_create_sets_server_fields_and_generate_name(api: Api) -> None:
    made = api.post(CM, {"metadata": {"generateName": "cm-"}, "data": {"a": "1"}})
    meta = made["metadata"]
    assert meta["name"].startswith("cm-")
    assert len(meta["name"]) > 3
    assert meta["uid"]
    assert meta["resourceVersion"].isdigit()
    assert meta["generation"] == 1
    assert meta["creationTimestamp"].endswith("Z")
    assert meta["namespace"] == "emu"
    conflict = raw(api, "POST", CM, {"metadata": {"name": meta["name"]}})
    assert (conflict.status_code, conflict.json()["reason"]) == (409, "AlreadyExists")


def test_generation_follows_spec_and_status_is_a_subresource(api: Api) -> None:
    body = load_yaml(ROOT / "operator/samples/microservice.yaml")
    body["metadata"]["namespace"] = "emu"
    path = f"{MS}/namespaces/emu/microservices/gale"
    created = api.post(f"{MS}/namespaces/emu/microservices", {**body, "status": {"x": 1}})
    assert "status" not in created
    labelled = api.patch(path, {"metadata": {"labels": {"a": "b"}}, "status": {"version": "no"}})
    assert labelled["metadata"]["generation"] == 1
    assert "status" not in labelled
    assert int(labelled["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )
    status = api.patch(f"{path}/status", {"status": {"version": "1"}, "spec": {"replicas": 9}})
    assert status["status"] == {"version": "1"}
    assert status["spec"]["replicas"] == 2
    assert api.patch(path, {"spec": {"replicas": 3}})["metadata"]["generation"] == 2
    scale = api.get(f"{path}/scale")
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 3
    assert api.patch(f"{path}/scale", {"spec": {"replicas": 4}})["spec"]["replicas"] == 4
    assert api.get(path)["metadata"]["generation"] == 3


def test_failed_json_patch_test_is_422_and_missing_is_not_found(api: Api) -> None:
    made = api.post(CM, {"metadata": {"name": "jp"}})
    stale = [{"op": "test", "path": "/metadata/resourceVersion", "value": "0"}]
    response = raw(
        api, "PATCH", f"{CM}/jp", stale, **{"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 422
    fresh = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": made["metadata"]["resourceVersion"],
        },
        {"op": "add", "path": "/data", "value": {"k": "v"}},
    ]
    ok = raw(api, "PATCH", f"{CM}/jp", fresh, **{"Content-Type": "application/json-patch+json"})
    assert ok.status_code == 200
    assert ok.json()["data"] == {"k": "v"}
    missing = raw(api, "GET", f"{CM}/nope")
    assert (missing.status_code, missing.json()["reason"]) == (404, "NotFound")
    unknown = raw(api, "GET", "/apis/example.com/v1/widgets")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "NotFound")


def test_lists_and_watches_honour_resource_versions(api: Api) -> None:
    listing = api.get("/api/v1/namespaces/w/configmaps")
    assert listing["kind"] == "ConfigMapList"
    assert listing["metadata"]["resourceVersion"].isdigit()
    api.post("/api/v1/namespaces/w/configmaps", {"metadata": {"name": "before"}})
    mark = api.get("/api/v1/namespaces/w/configmaps")["metadata"]["resourceVersion"]
    api.post("/api/v1/namespaces/w/configmaps", {"metadata": {"name": "after"}})
    api.delete("/api/v1/namespaces/w/configmaps/before")
    replayed = watch(api, "/api/v1/namespaces/w/configmaps", resourceVersion=mark)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in replayed] == [
        ("ADDED", "after"),
        ("DELETED", "before"),
    ]
    current = watch(api, "/api/v1/namespaces/w/configmaps")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in current] == [("ADDED", "after")]


def test_finalizers_hold_deletion_until_released(api: Api) -> None:
    api.post(CM, {"metadata": {"name": "held", "finalizers": ["x/y"]}})
    api.delete(f"{CM}/held")
    held = api.get(f"{CM}/held")
    assert held["metadata"]["deletionTimestamp"]
    api.patch(f"{CM}/held", {"metadata": {"finalizers": None}})
    assert api.get(f"{CM}/held") is None


def test_discovery_and_namespaces(api: Api) -> None:
    resources = {r["name"] for r in api.get("/apis/gale.dev/v1alpha1")["resources"]}
    assert resources == {"microservices", "microservices/status", "microservices/scale"}
    core = {r["name"] for r in api.get("/api/v1")["resources"]}
    assert {"namespaces", "configmaps", "secrets", "events"} <= core
    names = {n["metadata"]["name"] for n in api.get("/api/v1/namespaces")["items"]}
    assert {"default", "emu"} <= names
    api.post("/api/v1/namespaces", {"metadata": {"name": "made-by-post"}})
    assert api.get("/api/v1/namespaces/made-by-post")["status"]["phase"] == "Active"
    events = watch(api, "/api/v1/namespaces", resourceVersion="1")
    assert "made-by-post" in {e["object"]["metadata"]["name"] for e in events}


def test_stored_builtins_lose_go_zero_values(api: Api) -> None:
    deployment = {
        "metadata": {"name": "zero", "labels": {"empty": ""}},
        "spec": {
            "replicas": 0,
            "paused": False,
            "minReadySeconds": 0,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"annotations": {}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "c",
                            "env": [{"name": "E", "value": ""}],
                            "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": False}],
                            "securityContext": {"allowPrivilegeEscalation": False},
                            "args": [],
                        }
                    ],
                    "volumes": [{"name": "v", "emptyDir": {}}],
                },
            },
        },
    }
    made = api.post("/apis/apps/v1/namespaces/emu/deployments", deployment)
    assert made == api.get("/apis/apps/v1/namespaces/emu/deployments/zero")
    spec = made["spec"]
    assert made["metadata"]["labels"] == {"empty": ""}  # map entries are values
    assert spec["replicas"] == 0  # *int32
    assert "paused" not in spec
    assert "minReadySeconds" not in spec
    pod = spec["template"]["spec"]
    assert "metadata" not in spec["template"] or "annotations" not in spec["template"]["metadata"]
    assert pod["automountServiceAccountToken"] is False  # *bool
    container = pod["containers"][0]
    assert container["env"] == [{"name": "E"}]
    assert container["volumeMounts"] == [{"name": "v", "mountPath": "/v"}]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False}
    assert "args" not in container
    assert pod["volumes"] == [{"name": "v", "emptyDir": {}}]  # an empty struct stays
    assert "data" not in api.post(CM, {"metadata": {"name": "nodata"}, "data": {}})
    patched = api.patch(f"{CM}/nodata", {"data": {"k": ""}})
    assert patched["data"] == {"k": ""}
    paused = api.patch("/apis/apps/v1/namespaces/emu/deployments/zero", {"spec": {"paused": True}})
    assert paused["spec"]["paused"] is True
    resumed = api.patch(
        "/apis/apps/v1/namespaces/emu/deployments/zero", {"spec": {"paused": False}}
    )
    assert "paused" not in resumed["spec"]
    service = api.post(
        "/api/v1/namespaces/emu/services", {"metadata": {"name": "s"}, "spec": {"selector": {}}}
    )
    assert "selector" not in service["spec"]


def test_label_and_field_selectors(api: Api) -> None:
    base = "/api/v1/namespaces/sel/configmaps"
    for name, labels in (("a", {"app": "x", "tier": "web"}), ("b", {"app": "y"}), ("c", {})):
        api.post(base, {"metadata": {"name": name, "labels": labels}})

    def names(**params: str) -> list[str]:
        response = api.session.get(api.base + base, params=params, timeout=10)
        response.raise_for_status()
        return sorted(i["metadata"]["name"] for i in response.json()["items"])

    assert names(labelSelector="app=x") == ["a"]
    assert names(labelSelector="app==x") == ["a"]
    assert names(labelSelector="app!=x") == ["b", "c"]
    assert names(labelSelector="app") == ["a", "b"]
    assert names(labelSelector="!app") == ["c"]
    assert names(labelSelector="app in (x, y),tier") == ["a"]
    assert names(labelSelector="app notin (x)") == ["b", "c"]
    assert names(fieldSelector="metadata.name=b") == ["b"]
    assert names(fieldSelector="metadata.name!=b", labelSelector="app") == ["a"]
    bad_field = api.session.get(api.base + base, params={"fieldSelector": "data.k=v"}, timeout=10)
    assert (bad_field.status_code, bad_field.json()["reason"]) == (400, "BadRequest")
    bad_label = api.session.get(api.base + base, params={"labelSelector": "a in b"}, timeout=10)
    assert bad_label.status_code == 400
    mark = api.get(base)["metadata"]["resourceVersion"]
    api.patch(f"{base}/b", {"metadata": {"labels": {"app": "x"}}})  # enters app=x
    api.patch(f"{base}/a", {"metadata": {"labels": {"app": "z"}}})  # leaves app=x
    api.patch(f"{base}/c", {"data": {"k": "v"}})  # never in app=x
    seen = watch(api, base, resourceVersion=mark, labelSelector="app=x")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    initial = watch(api, base, labelSelector="app=x")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [("ADDED", "b")]
    api.post(
        "/api/v1/namespaces/sel/events",
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"name": "b", "kind": "ConfigMap"},
            "reason": "R",
        },
    )
    listed = api.session.get(
        api.base + "/api/v1/namespaces/sel/events",
        params={"fieldSelector": "involvedObject.name=b,involvedObject.kind=ConfigMap"},
        timeout=10,
    ).json()["items"]
    assert [e["metadata"]["name"] for e in listed] == ["e1"]


def test_watch_resumed_after_a_gap_is_410_gone(api: Api) -> None:
    base = "/api/v1/namespaces/gap/configmaps"
    api.post(base, {"metadata": {"name": "before"}})
    mark = api.get(base)["metadata"]["resourceVersion"]
    api.post(base, {"metadata": {"name": "during"}})
    api.post("/_emulator/watches/close", None)
    try:
        held = api.session.get(
            api.base + base,
            params={"watch": "true", "timeoutSeconds": "5", "resourceVersion": mark},
            timeout=0.5,
            stream=True,
        )
        with pytest.raises(requests.exceptions.ConnectionError):  # held: no event yet
            next(held.iter_lines())
    finally:
        api.post("/_emulator/watches/expire", None)
    gone = watch(api, base, resourceVersion=mark)
    assert len(gone) == 1
    assert gone[0]["type"] == "ERROR"
    assert (gone[0]["object"]["code"], gone[0]["object"]["reason"]) == (410, "Expired")
    fresh = api.get(base)
    assert {i["metadata"]["name"] for i in fresh["items"]} == {"before", "during"}
    api.post(base, {"metadata": {"name": "after"}})
    resumed = watch(api, base, resourceVersion=fresh["metadata"]["resourceVersion"])
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in resumed] == [("ADDED", "after")]


def test_faults_are_injected_on_request_patterns(api: Api) -> None:
    api.post(CM, {"metadata": {"name": "faulty"}})
    rules = [
        {
            "method": "PATCH",
            "path": "/configmaps/faulty$",
            "status": 429,
            "retryAfter": 3,
            "count": 1,
        },
        {"method": "PATCH", "path": "/configmaps/faulty$", "status": 409, "count": 1},
        {"method": "GET", "path": "/configmaps/faulty$", "status": 500, "count": 1},
        {"method": "GET", "path": "/configmaps/slow$", "delay": 0.4, "count": 1},
        {
            "method": "POST",
            "path": "/namespaces/emu/secrets$",
            "status": 500,
            "rate": 0.5,
            "seed": 1,
        },
    ]
    assert raw(api, "POST", "/_emulator/faults", rules).status_code == 200
    try:
        limited = raw(api, "PATCH", f"{CM}/faulty", {"data": {"a": "1"}}, **MERGE)
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
        assert limited.json()["reason"] == "TooManyRequests"
        conflict = raw(api, "PATCH", f"{CM}/faulty", {"data": {"a": "1"}}, **MERGE)
        assert (conflict.status_code, conflict.json()["reason"]) == (409, "Conflict")
        assert raw(api, "PATCH", f"{CM}/faulty", {"data": {"a": "1"}}, **MERGE).status_code == 200
        assert raw(api, "GET", f"{CM}/faulty").status_code == 500
        assert raw(api, "GET", f"{CM}/faulty").json()["data"] == {"a": "1"}
        started = time.monotonic()
        assert raw(api, "GET", f"{CM}/slow").status_code == 404
        assert time.monotonic() - started >= 0.4
        codes = [
            raw(
                api, "POST", "/api/v1/namespaces/emu/secrets", {"metadata": {"name": f"s{i}"}}
            ).status_code
            for i in range(40)
        ]
        assert 5 < codes.count(500) < 35
        assert codes.count(201) == 40 - codes.count(500)
        fired = [rule["fired"] for rule in raw(api, "GET", "/_emulator/faults").json()]
        assert fired[:4] == [1, 1, 1, 1]
    finally:
        raw(api, "DELETE", "/_emulator/faults")
    assert raw(api, "GET", f"{CM}/faulty").status_code == 200


def _owned(api: Api, name: str, owner: dict[str, Any], **extra: Any) -> None:
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        **extra,
    }
    api.post(CM, {"metadata": {"name": name, "ownerReferences": [ref]}})


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
def test_garbage_collection_follows_the_propagation_policy(api: Api, policy: str) -> None:
    owner = api.post(CM, {"metadata": {"name": f"owner-{policy.lower()}"}})
    other = api.post(CM, {"metadata": {"name": f"other-{policy.lower()}"}})
    child, grandchild, shared = (f"{n}-{policy.lower()}" for n in ("child", "grand", "shared"))
    _owned(api, child, owner, blockOwnerDeletion=True)
    _owned(api, grandchild, api.get(f"{CM}/{child}"))
    api.post(
        CM,
        {
            "metadata": {
                "name": shared,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": n["metadata"]["name"],
                        "uid": n["metadata"]["uid"],
                    }
                    for n in (owner, other)
                ],
            }
        },
    )
    path = f"{CM}/{owner['metadata']['name']}"
    response = raw(api, "DELETE", path, {"kind": "DeleteOptions", "propagationPolicy": policy})
    assert response.status_code in {200, 202}
    if policy == "Foreground":  # the owner waits, marked, until its dependents are gone
        assert "foregroundDeletion" in response.json()["metadata"]["finalizers"]
    wait_until(lambda: api.get(path) is None, timeout=5, what="the owner to go")
    if policy == "Orphan":
        time.sleep(0.3)
        kept = api.get(f"{CM}/{child}")
        assert "ownerReferences" not in kept["metadata"]
        assert api.get(f"{CM}/{grandchild}") is not None
    else:
        wait_until(lambda: api.get(f"{CM}/{child}") is None, timeout=5, what="the child")
        wait_until(lambda: api.get(f"{CM}/{grandchild}") is None, timeout=5, what="grandchild")
    survivor = wait_until(
        lambda: (
            (s := api.get(f"{CM}/{shared}"))
            and len(s["metadata"].get("ownerReferences", [])) == 1
            and s
        ),
        timeout=5,
        what="the shared dependent to keep its other owner",
    )
    assert survivor["metadata"]["ownerReferences"][0]["uid"] == other["metadata"]["uid"]


def test_finalizers_hold_a_collected_dependent(api: Api) -> None:
    owner = api.post(CM, {"metadata": {"name": "fin-owner"}})
    _owned(api, "fin-child", owner)
    api.patch(f"{CM}/fin-child", {"metadata": {"finalizers": ["x/y"]}})
    api.delete(f"{CM}/fin-owner")
    held = wait_until(
        lambda: (c := api.get(f"{CM}/fin-child")) and c["metadata"].get("deletionTimestamp") and c,
        timeout=5,
    )
    assert held["metadata"]["finalizers"] == ["x/y"]
    api.patch(f"{CM}/fin-child", {"metadata": {"finalizers": None}})
    assert api.get(f"{CM}/fin-child") is None


def test_secret_string_data_is_stored_as_data(api: Api) -> None:
    made = api.post(
        "/api/v1/namespaces/emu/secrets",
        {
            "metadata": {"name": "plain"},
            "data": {"a": "YQ=="},
            "stringData": {"uri": "mongodb://x"},
        },
    )
    assert made["data"] == {"a": "YQ==", "uri": "bW9uZ29kYjovL3g="}
    assert "stringData" not in made


def test_discovery_lists_what_kubectl_expects(api: Api) -> None:
    core = api.get("/api/v1")
    assert core["groupVersion"] == "v1"
    gale = {r["name"]: r for r in api.get("/apis/gale.dev/v1alpha1")["resources"]}
    assert gale["microservices"]["shortNames"] == ["ms"]
    assert gale["microservices"]["categories"] == ["gale"]
    for sub in ("microservices/status", "microservices/scale"):
        assert gale[sub]["shortNames"] == []  # else `kubectl get ms` warns of an ambiguity
    assert gale["microservices/scale"]["kind"] == "Scale"
    root = api.get("/openapi/v3")["paths"]
    assert {"api/v1", "apis/gale.dev/v1alpha1", "apis/apps/v1"} <= root.keys()
    doc = api.get(root["apis/gale.dev/v1alpha1"]["serverRelativeURL"])
    patch = doc["paths"]["/apis/gale.dev/v1alpha1/namespaces/{namespace}/microservices/{name}"]
    assert patch["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Microservice"
    assert "fieldValidation" in {p["name"] for p in patch["patch"]["parameters"]}


def test_tables_carry_the_printer_columns(api: Api) -> None:
    path = f"{MS}/namespaces/tbl/microservices"
    body = load_yaml(ROOT / "operator/samples/microservice.yaml")
    body["metadata"]["namespace"] = "tbl"
    api.post(path, body)
    status = {"conditions": [{"type": "Ready", "status": "True"}], "version": "0.1.0"}
    api.patch(f"{path}/gale/status", {"status": status})
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    listed = api.session.get(api.base + path, headers={"Accept": accept}, timeout=10).json()
    assert listed["kind"] == "Table"
    names = [c["name"] for c in listed["columnDefinitions"]]
    assert names == ["Name", "Ready", "Replicas", "Available", "Version", "TLS", "Age"]
    (row,) = listed["rows"]
    assert row["cells"][:6] == ["gale", "True", 2, None, "0.1.0", "disabled"]
    one = api.session.get(api.base + f"{path}/gale", headers={"Accept": accept}, timeout=10)
    assert one.json()["rows"][0]["cells"][0] == "gale"
