"""The emulated API server behaves like a real one where kopf and the operator rely on it."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.operator.cluster import CRD_PATH, MS, ROOT, Api, load_yaml
from tests.ports import free_port, wait_for_port

CM = "/api/v1/namespaces/emu/configmaps"


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
