"""What the rendered chart must look like for every values file: labels, security, wiring."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from gale_operator.config import parse_config
from gale_service.settings import REQUIRED_SECRETS, Settings

from tests.helm.chart import (
    CHART,
    NAMESPACE,
    RELEASE,
    VALUES_FILES,
    Manifest,
    Render,
    render_file,
    render_values,
)
from tests.images.health_server import health_server
from tests.ports import free_port

CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering"}
OPERATOR = f"{RELEASE}-gale-operator"


def pod_specs(rendered: Render) -> Iterator[tuple[Manifest, Manifest, dict[str, Any]]]:
    """(object, pod spec, pod labels) for every pod the chart runs."""
    for each in rendered.objects:
        if each["kind"] == "Pod":
            yield each, each["spec"], each["metadata"]["labels"]
        elif each["kind"] == "Deployment":
            template = each["spec"]["template"]
            yield each, template["spec"], template["metadata"]["labels"]


def test_ci_values_cover_the_install_modes() -> None:
    assert {"default", "namespaced", "instance", "tls-selfsigned", "tls-certmanager"} <= set(
        VALUES_FILES
    )


def test_every_object_carries_the_recommended_labels(rendered: Render) -> None:
    expected = {
        "helm.sh/chart": f"gale-{CHART_META['version']}",
        "app.kubernetes.io/name": "gale",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/version": CHART_META["appVersion"],
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/part-of": "gale",
        **rendered.values.get("commonLabels", {}),
    }
    label_sets = [each["metadata"]["labels"] for each in rendered.objects]
    label_sets += [labels for _, _, labels in pod_specs(rendered)]
    for labels in label_sets:
        assert labels.items() >= expected.items()
        assert labels["app.kubernetes.io/component"] in {"operator", "instance", "test"}
    for each in rendered.objects:
        annotations = each["metadata"].get("annotations", {})
        assert annotations.items() >= rendered.values.get("commonAnnotations", {}).items()


def test_objects_live_where_they_belong(rendered: Render) -> None:
    watched = rendered.values.get("operator", {}).get("watchNamespaces", [])
    for each in rendered.objects:
        namespace = each["metadata"].get("namespace")
        if each["kind"] in CLUSTER_SCOPED:
            assert namespace is None
        elif each["kind"] in {"Role", "RoleBinding", "KopfPeering"}:
            assert namespace in watched
        else:
            assert namespace == NAMESPACE


def test_pods_run_locked_down(rendered: Render) -> None:
    pods = list(pod_specs(rendered))
    assert {owner["kind"] for owner, _, _ in pods} == {"Deployment", "Pod"}
    for owner, spec, _ in pods:
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not {"hostNetwork", "hostPID", "hostIPC"} & spec.keys()
        # A token only where the API is called: the operator, never the test pod.
        assert spec["automountServiceAccountToken"] is (owner["kind"] == "Deployment")
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["privileged"] is False
            assert context["runAsNonRoot"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys()
            assert {"cpu", "memory"} <= resources["limits"].keys()
            image = container["image"]
            assert "@sha256:" in image or image.rsplit(":", 1)[1] == CHART_META["appVersion"]
            assert not image.endswith(":latest")
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume
    for account in rendered.kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_operator_runs_replicated_with_peering_and_contract_flags(rendered: Render) -> None:
    """Two replicas, exactly one active through kopf peering, spread over nodes, PDB-held."""
    deployment = rendered.one("Deployment")
    assert deployment["metadata"]["name"] == OPERATOR
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    watched = rendered.values.get("operator", {}).get("watchNamespaces", [])
    kind = "KopfPeering" if watched else "ClusterKopfPeering"
    peerings = rendered.kind(kind)
    assert len(peerings) == max(1, len(watched))
    assert {p["metadata"].get("namespace") for p in peerings} == (set(watched) or {None})
    (name,) = {p["metadata"]["name"] for p in peerings}
    (container,) = spec["template"]["spec"]["containers"]
    assert f"--peering={name}" in container["args"]
    assert {"name": "POD_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in (
        container["env"]
    )
    anti = spec["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["podAffinityTerm"]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    )
    pdb = rendered.one("PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == spec["selector"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    watched = rendered.values.get("operator", {}).get("watchNamespaces", [])
    expected_scope = [f"--namespace={ns}" for ns in watched] or ["--all-namespaces"]
    assert container["args"][: len(expected_scope)] == expected_scope
    assert "--metrics-port=8080" in container["args"]
    assert "--health-port=8081" in container["args"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http-metrics": 8080, "http-health": 8081}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http-health"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert pod["serviceAccountName"] == OPERATOR
    template_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= template_labels.items()


def test_operator_accepts_the_arguments_the_chart_gives_it(rendered: Render) -> None:
    """The operator's own parser reads the container's args and env as the pod would."""
    (container,) = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    env = {each["name"]: each["value"] for each in container.get("env", []) if "value" in each}
    config = parse_config(container["args"], env)
    operator = rendered.values.get("operator", {})
    assert config.namespaces == tuple(operator.get("watchNamespaces", []))
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert (config.metrics_port, config.health_port) == (
        ports["http-metrics"],
        ports["http-health"],
    )
    assert config.peering == (operator.get("peering", {}).get("name") or f"{NAMESPACE}-{OPERATOR}")
    assert config.peering_lifetime == 60
    assert config.verbose is operator.get("verbose", False)


def test_a_standalone_operator_runs_once_and_replicas_need_peering() -> None:
    standalone = render_values({"operator": {"replicas": 1, "peering": {"enabled": False}}})
    spec = standalone.one("Deployment")["spec"]
    assert (spec["replicas"], spec["strategy"]) == (1, {"type": "Recreate"})
    (container,) = spec["template"]["spec"]["containers"]
    assert not any(arg.startswith("--peering") for arg in container["args"])
    assert not standalone.kind("ClusterKopfPeering")
    with pytest.raises(Exception, match=r"operator\.replicas > 1 needs operator\.peering\.enabled"):
        render_values({"operator": {"replicas": 2, "peering": {"enabled": False}}})


def test_metrics_service_reaches_the_operator(rendered: Render) -> None:
    service = rendered.one("Service")
    labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert {(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        ("http-metrics", 8080, "http-metrics"),
        ("http-health", 8081, "http-health"),
    }


def test_helm_test_pod_asks_the_operator_for_its_health(rendered: Render) -> None:
    pod = rendered.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    (container,) = pod["spec"]["containers"]
    python, flag, script, url = container["command"]
    assert (python, flag) == ("python", "-c")
    compile(script, "helm-test", "exec")
    assert url == f"http://{OPERATOR}.{NAMESPACE}.svc:8081/healthz"
    assert (
        container["image"]
        == rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    )


def test_network_policy_admits_only_what_the_values_allow(rendered: Render) -> None:
    (policy,) = rendered.kind("NetworkPolicy")
    pod_labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    (ingress,) = policy["spec"]["ingress"]
    assert {port["port"] for port in ingress["ports"]} == {8080, 8081}
    network = rendered.values.get("networkPolicy", {})
    if network.get("allowExternal", True):
        assert "from" not in ingress
    else:
        test_pod_labels = rendered.one("Pod")["metadata"]["labels"]
        selectors = [peer["podSelector"]["matchLabels"] for peer in ingress["from"]]
        assert any(s.items() <= test_pod_labels.items() for s in selectors), (
            "helm test could not reach the operator"
        )
        assert {
            "namespaceSelector": {"matchLabels": network["ingressNSMatchLabels"]},
            "podSelector": {"matchLabels": network["ingressNSPodMatchLabels"]},
        } in ingress["from"]
    if network.get("allowExternalEgress", True):
        assert policy["spec"]["egress"] == [{}]
    else:
        ports = {
            (p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]
        }
        assert ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP")}


def test_optional_pdb_and_service_monitor() -> None:
    default = render_file("default")
    assert default.one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1  # two replicas
    assert not render_values({"pdb": {"create": False}}).kind("PodDisruptionBudget")
    assert not default.kind("ServiceMonitor")
    hardened = render_file("hardened")
    pdb = hardened.one("PodDisruptionBudget")
    pod_labels = hardened.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    monitor = hardened.one("ServiceMonitor")
    service = hardened.one("Service")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert {"action": "replace", "targetLabel": "job", "replacement": "gale-operator"} in endpoint[
        "relabelings"
    ]


def test_images_follow_app_version_or_digest() -> None:
    digest = render_file("hardened").one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert digest["image"] == "ghcr.io/gale-dev/gale-operator@sha256:" + "0123456789abcdef" * 4
    tagged = render_file("default").one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert tagged["image"] == f"ghcr.io/gale-dev/gale-operator:{CHART_META['appVersion']}"


def test_instance_reads_its_uri_from_the_secret_the_chart_made() -> None:
    rendered = render_file("instance")
    microservice = rendered.one("Microservice")
    reference = microservice["spec"]["mongodb"]["uriSecretRef"]
    secret = _secret(rendered, reference["name"])
    uri = base64.b64decode(secret["data"][reference["key"]]).decode()
    assert uri == rendered.values["instance"]["mongodb"]["uri"]
    spec = microservice["spec"]
    assert spec["image"] == f"ghcr.io/gale-dev/gale-service:{CHART_META['appVersion']}"
    assert spec["replicas"] == 3
    assert spec["autoscaling"]["maxReplicas"] == 12
    assert spec["tls"] == {"mode": "disabled"}
    assert "WARNING" in rendered.notes


def _secret(rendered: Render, name: str) -> Manifest:
    (found,) = [s for s in rendered.kind("Secret") if s["metadata"]["name"] == name]
    return found


def test_instance_gets_signing_keys_the_service_accepts() -> None:
    """The generated Secret holds every key a production service requires, in its format."""
    rendered = render_file("instance")
    spec = rendered.one("Microservice")["spec"]
    by_name = {entry["name"]: entry for entry in spec["env"]}
    keys: dict[str, str] = {}
    for setting in REQUIRED_SECRETS:
        reference = by_name[f"GALE_{setting.upper()}"]["valueFrom"]["secretKeyRef"]
        assert reference["key"] == setting
        secret = _secret(rendered, reference["name"])
        keys[setting] = base64.b64decode(secret["data"][setting]).decode()
    assert set(secret["data"]) == set(REQUIRED_SECRETS)
    # The service's own validation (the same a production start runs) accepts them.
    uri = rendered.values["instance"]["mongodb"]["uri"]
    settings = Settings.model_validate({"env": "production", "mongodb_uri": uri, **keys})
    assert settings.secret_key is not None
    # Entries of instance.env follow the chart's, so the service sees both.
    assert by_name["GALE_DRAIN_SECONDS"] == {"name": "GALE_DRAIN_SECONDS", "value": "10"}


def test_instance_env_replaces_a_chart_entry_of_the_same_name() -> None:
    rendered = render_values(
        {
            "instance": {
                "enabled": True,
                "mongodb": {"existingSecret": "db"},
                "appSecrets": {"existingSecret": "keys"},
                "env": [
                    {
                        "name": "GALE_JWT_KEYS",
                        "valueFrom": {"secretKeyRef": {"name": "jwt", "key": "k"}},
                    }
                ],
            }
        }
    )
    assert not rendered.kind("Secret")
    env = rendered.one("Microservice")["spec"]["env"]
    names = [entry["name"] for entry in env]
    assert sorted(names) == sorted(f"GALE_{s.upper()}" for s in REQUIRED_SECRETS)
    by_name = {entry["name"]: entry["valueFrom"]["secretKeyRef"] for entry in env}
    assert by_name["GALE_JWT_KEYS"] == {"name": "jwt", "key": "k"}
    assert by_name["GALE_SECRET_KEY"] == {"name": "keys", "key": "secret_key"}


def test_instance_with_an_existing_secret_makes_no_uri_secret() -> None:
    rendered = render_file("tls-certmanager")
    assert [s["metadata"]["name"] for s in rendered.kind("Secret")] == ["shop-app-secrets"]
    spec = rendered.one("Microservice")["spec"]
    assert rendered.one("Microservice")["metadata"]["name"] == "shop"
    assert spec["mongodb"] == {
        "uriSecretRef": {"name": "shop-mongodb", "key": "connection-string"},
        "database": "shop",
    }
    assert spec["tls"]["issuerRef"] == {"name": "letsencrypt", "kind": "ClusterIssuer"}
    assert spec["disruption"] == {"minAvailable": "50%"}
    assert "WARNING" not in rendered.notes


def test_self_signed_tls_needs_no_issuer() -> None:
    tls = render_file("tls-selfsigned").one("Microservice")["spec"]["tls"]
    assert tls["mode"] == "selfSigned"
    assert "issuerRef" not in tls
    assert tls["dnsNames"] == ["gale.example.com"]


def test_notes_tell_the_user_what_to_do_next(rendered: Render) -> None:
    assert f"rollout status deployment/{OPERATOR}" in rendered.notes
    assert f"helm test {RELEASE} -n {NAMESPACE}" in rendered.notes
    if rendered.kind("Microservice"):
        name = rendered.one("Microservice")["metadata"]["name"]
        assert f"get microservice {name}" in rendered.notes
    else:
        assert f"helm upgrade {RELEASE} " in rendered.notes
        assert "--set instance.enabled=true" in rendered.notes


def test_helm_test_script_fails_unless_the_operator_is_healthy() -> None:
    """Run the test pod's own script against a stand-in /healthz, healthy and not."""
    (container,) = render_file("default").one("Pod")["spec"]["containers"]
    _, _, script, _ = container["command"]

    def run(url: str) -> int:
        return subprocess.run(
            [sys.executable, "-c", script, url], capture_output=True, timeout=30
        ).returncode

    with health_server(path="/healthz", status=200) as port:
        assert run(f"http://127.0.0.1:{port}/healthz") == 0
    with health_server(path="/healthz", status=503) as port:
        assert run(f"http://127.0.0.1:{port}/healthz") != 0
    assert run(f"http://127.0.0.1:{free_port()}/healthz") != 0
