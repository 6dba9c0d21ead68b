"""Table tests of the pure spec -> desired objects function."""

from __future__ import annotations

from typing import Any

import pytest
from gale_operator.core import kinds
from gale_operator.core.desired import desired_deployment, desired_objects
from gale_operator.core.naming import Owner
from gale_operator.core.pod import config_hash
from gale_operator.core.spec import parse_spec
from gale_service.settings import Settings

OWNER = Owner(name="shop", namespace="prod", uid="u-1")
BASE: dict[str, Any] = {
    "image": "ghcr.io/acme/shop:1.4.2",
    "mongodb": {"uriSecretRef": {"name": "db", "key": "uri"}, "database": "shop"},
}


def objects(**spec: Any) -> dict[kinds.Kind, Any]:
    return desired_objects(
        parse_spec({**BASE, **spec}), owner=OWNER, service_monitor_available=True
    )


def container(**spec: Any) -> dict[str, Any]:
    deployment = objects(**spec)[kinds.DEPLOYMENT]
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env(**spec: Any) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(**spec)["env"]}


def test_every_child_is_owned_labelled_and_selected_consistently() -> None:
    for kind, obj in objects(
        networkPolicy={"enabled": True}, autoscaling={"enabled": True}
    ).items():
        assert obj is not None, kind
        assert obj["kind"] == kind.kind
        assert obj["apiVersion"] == kind.api_version
        [ref] = obj["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": "gale.dev/v1alpha1",
            "kind": "Microservice",
            "name": "shop",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert obj["metadata"]["labels"]["gale.dev/microservice"] == "shop"


def test_deployment_runs_the_service_per_its_contract() -> None:
    values = env()
    assert values["GALE_HOST"] == "0.0.0.0"
    assert values["GALE_PORT"] == "8888"
    assert values["GALE_MONGODB_URI"] == {"secretKeyRef": {"name": "db", "key": "uri"}}
    assert values["GALE_MONGODB_DATABASE"] == "shop"
    assert values["K8S_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert "k8s.pod.name=$(K8S_POD_NAME)" in values["OTEL_RESOURCE_ATTRIBUTES"]
    assert "service.version=1.4.2" in values["OTEL_RESOURCE_ATTRIBUTES"]
    assert values["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    c = container()
    assert c["envFrom"] == [{"configMapRef": {"name": "shop-config"}}]
    probes = {
        name: c[name]["httpGet"]["path"]
        for name in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert probes == {
        "startupProbe": "/startupz",
        "readinessProbe": "/readyz",
        "livenessProbe": "/livez",
    }
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_host_allow_list_admits_the_service_names_the_service_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = env(tls={"mode": "selfSigned", "dnsNames": ["api.example.com"]})["GALE_ALLOWED_HOSTS"]
    monkeypatch.setenv("GALE_ALLOWED_HOSTS", value)
    allowed = Settings().allowed_hosts
    for host in (
        "shop",
        "shop.prod",
        "shop.prod.svc",
        "shop.prod.svc.cluster.local",
        "api.example.com",
    ):
        assert host in allowed


@pytest.mark.parametrize(
    ("extra_env", "drain", "grace"),
    [
        ([], 5, 5 + 5 + 20 + 5),
        ([{"name": "GALE_DRAIN_SECONDS", "value": "12"}], 12, 12 + 12 + 20 + 5),
    ],
)
def test_prestop_pause_matches_the_drain(extra_env: list[Any], drain: int, grace: int) -> None:
    deployment = objects(env=extra_env)[kinds.DEPLOYMENT]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["lifecycle"]["preStop"] == {"sleep": {"seconds": drain}}
    assert pod["terminationGracePeriodSeconds"] == grace


def test_user_env_overrides_by_name_and_appends_the_rest() -> None:
    values = env(env=[{"name": "GALE_PORT", "value": "9000"}, {"name": "EXTRA", "value": "x"}])
    assert values["GALE_PORT"] == "9000"
    assert values["EXTRA"] == "x"
    names = [e["name"] for e in container(env=[{"name": "GALE_PORT", "value": "9"}])["env"]]
    assert names.count("GALE_PORT") == 1


@pytest.mark.parametrize(
    ("tls", "port", "scheme", "mounted"),
    [
        ({"mode": "disabled"}, "http", "HTTP", False),
        ({"mode": "selfSigned"}, "https", "HTTPS", True),
    ],
)
def test_tls_switches_port_names_probes_and_mount(
    tls: dict[str, Any], port: str, scheme: str, mounted: bool
) -> None:
    objs = objects(tls=tls)
    c = objs[kinds.DEPLOYMENT]["spec"]["template"]["spec"]["containers"][0]
    assert c["ports"][0]["name"] == port
    assert c["readinessProbe"]["httpGet"]["scheme"] == scheme
    assert objs[kinds.SERVICE]["spec"]["ports"][0]["name"] == port
    assert objs[kinds.SERVICE_MONITOR]["spec"]["endpoints"][0]["port"] == port
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert ("/etc/gale/tls" in mounts) is mounted
    if mounted:
        assert "subPath" not in mounts["/etc/gale/tls"]
        assert env(tls=tls)["GALE_TLS_CERT_FILE"] == "/etc/gale/tls/tls.crt"


def test_config_hash_follows_the_config() -> None:
    def annotation(config: dict[str, str]) -> str:
        deployment = objects(config=config)[kinds.DEPLOYMENT]
        return str(
            deployment["spec"]["template"]["metadata"]["annotations"]["gale.dev/config-hash"]
        )

    assert annotation({"A": "1"}) == annotation({"A": "1"}) == config_hash({"A": "1"})
    assert annotation({"A": "1"}) != annotation({"A": "2"})
    assert objects(config={"A": "1"})[kinds.CONFIGMAP]["data"] == {"A": "1"}


def test_autoscaling_adds_hpa_and_leaves_replicas_to_it() -> None:
    plain = desired_deployment(parse_spec({**BASE, "replicas": 3}), owner=OWNER)
    assert plain["spec"]["replicas"] == 3
    objs = objects(replicas=3, autoscaling={"enabled": True, "minReplicas": 2, "maxReplicas": 7})
    assert "replicas" not in objs[kinds.DEPLOYMENT]["spec"]
    hpa = objs[kinds.HPA]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 7)
    assert objects()[kinds.HPA] is None


@pytest.mark.parametrize(
    ("disruption", "expected"),
    [(None, {"maxUnavailable": 1}), ({"minAvailable": "50%"}, {"minAvailable": "50%"})],
)
def test_pdb_budget(disruption: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    spec = objects(**({"disruption": disruption} if disruption else {}))[kinds.PDB]["spec"]
    assert {k: v for k, v in spec.items() if k in {"minAvailable", "maxUnavailable"}} == expected


def test_network_policy_and_service_monitor_are_optional() -> None:
    assert objects()[kinds.NETWORK_POLICY] is None
    peers = [{"namespaceSelector": {"matchLabels": {"team": "web"}}}]
    policy = objects(networkPolicy={"enabled": True, "allowFrom": peers})[kinds.NETWORK_POLICY]
    assert policy["spec"]["ingress"][0]["from"] == peers
    same_ns = objects(networkPolicy={"enabled": True})[kinds.NETWORK_POLICY]
    assert same_ns["spec"]["ingress"][0]["from"] == [{"podSelector": {}}]
    absent = desired_objects(parse_spec(BASE), owner=OWNER, service_monitor_available=False)
    assert absent[kinds.SERVICE_MONITOR] is None
    assert objects(observability={"serviceMonitor": False})[kinds.SERVICE_MONITOR] is None
    assert objects()[kinds.SERVICE_MONITOR]["spec"]["jobLabel"] == "app.kubernetes.io/part-of"
