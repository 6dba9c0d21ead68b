"""The pod template that runs the Gale service the way its process contract expects.

Environment, probes, TLS mounts and the shutdown timeline all follow the service's settings
(GALE_*), so a change there is a change here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gale_operator.core.naming import (
    CONFIG_HASH_ANNOTATION,
    CONTAINER_NAME,
    CONTAINER_PORT,
    Owner,
    service_dns_names,
)
from gale_operator.core.spec import MicroserviceSpec

TLS_MOUNT_PATH = "/etc/gale/tls"
#: Slack after drain + shutdown for the process to exit before the kubelet kills it.
EXIT_MARGIN_SECONDS = 5
RUN_AS = 10001


def config_hash(config: Mapping[str, str]) -> str:
    """A stable digest of the ConfigMap data; on the pod template it rolls pods on change."""
    payload = json.dumps(dict(config), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def port_name(spec: MicroserviceSpec) -> str:
    return "https" if spec.tls.enabled else "http"


def pod_template(spec: MicroserviceSpec, *, owner: Owner) -> dict[str, Any]:
    """The Deployment's ``spec.template``."""
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # preStop pause, then the service's own drain after SIGTERM, then its shutdown timeout.
        "terminationGracePeriodSeconds": (
            2 * spec.drain_seconds + spec.shutdown_timeout_seconds + EXIT_MARGIN_SECONDS
        ),
        "containers": [_container(spec, owner=owner)],
        "volumes": _volumes(spec, owner=owner),
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": owner.selector},
                "matchLabelKeys": ["pod-template-hash"],
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
    }
    return {
        "metadata": {
            "labels": dict(owner.labels),
            "annotations": {CONFIG_HASH_ANNOTATION: config_hash(spec.config)},
        },
        "spec": pod_spec,
    }


def _container(spec: MicroserviceSpec, *, owner: Owner) -> dict[str, Any]:
    scheme = "HTTPS" if spec.tls.enabled else "HTTP"
    port = port_name(spec)

    def probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": port, "scheme": scheme},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": failures,
        }

    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": port, "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "env": _env(spec, owner=owner),
        "envFrom": [{"configMapRef": {"name": owner.config_map_name}}],
        "resources": dict(spec.resources),
        "startupProbe": probe("/startupz", period=2, failures=30),
        "readinessProbe": probe("/readyz", period=5, failures=2),
        "livenessProbe": probe("/livez", period=10, failures=3),
        # Endpoints drop the pod while it pauses, so no new request lands after SIGTERM.
        "lifecycle": {"preStop": {"sleep": {"seconds": spec.drain_seconds}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own emptyDir
    }
    if spec.tls.enabled:
        # No subPath: the kubelet then updates the files in place when the Secret rotates.
        container["volumeMounts"].append(
            {"name": "tls", "mountPath": TLS_MOUNT_PATH, "readOnly": True}
        )
    return container


def _volumes(spec: MicroserviceSpec, *, owner: Owner) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    if spec.tls.enabled:
        volumes.append({"name": "tls", "secret": {"secretName": owner.tls_secret_name}})
    return volumes


def _env(spec: MicroserviceSpec, *, owner: Owner) -> list[dict[str, Any]]:
    """The service's environment; entries of ``spec.env`` replace same-named ones."""

    def field(path: str) -> dict[str, Any]:
        return {"fieldRef": {"fieldPath": path}}

    ref = spec.mongodb.uri_secret
    env: list[dict[str, Any]] = [
        {"name": "GALE_ENV", "value": "production"},
        {"name": "GALE_HOST", "value": "0.0.0.0"},  # noqa: S104 - a container must listen on all
        {"name": "GALE_PORT", "value": str(CONTAINER_PORT)},
        {
            "name": "GALE_MONGODB_URI",
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
        },
        {"name": "GALE_MONGODB_DATABASE", "value": spec.mongodb.database},
        # The service's Host allow-list (DNS-rebinding defence): the names the Service answers
        # to, plus the certificate's extra names. Probes are exempt; add Ingress hosts via env.
        {"name": "GALE_ALLOWED_HOSTS", "value": ",".join(_allowed_hosts(spec, owner=owner))},
        {"name": "GALE_DRAIN_SECONDS", "value": str(spec.drain_seconds)},
        {"name": "GALE_SHUTDOWN_TIMEOUT_SECONDS", "value": str(spec.shutdown_timeout_seconds)},
        {"name": "K8S_POD_NAME", "valueFrom": field("metadata.name")},
        {"name": "K8S_NAMESPACE_NAME", "valueFrom": field("metadata.namespace")},
        {"name": "OTEL_SERVICE_NAME", "value": owner.name},
        {
            "name": "OTEL_RESOURCE_ATTRIBUTES",
            "value": "k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE_NAME),"
            f"service.version={spec.version}",
        },
        {"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_traceidratio"},
        {"name": "OTEL_TRACES_SAMPLER_ARG", "value": _ratio(spec.observability.sampling_ratio)},
    ]
    if spec.observability.otlp_endpoint:
        env.append(
            {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": spec.observability.otlp_endpoint}
        )
    else:
        env.append({"name": "OTEL_TRACES_EXPORTER", "value": "none"})
    if spec.tls.enabled:
        env.append({"name": "GALE_TLS_CERT_FILE", "value": f"{TLS_MOUNT_PATH}/tls.crt"})
        env.append({"name": "GALE_TLS_KEY_FILE", "value": f"{TLS_MOUNT_PATH}/tls.key"})
    overrides = {str(entry["name"]): dict(entry) for entry in spec.env}
    merged = [overrides.pop(entry["name"], entry) for entry in env]
    return merged + list(overrides.values())


def _allowed_hosts(spec: MicroserviceSpec, *, owner: Owner) -> tuple[str, ...]:
    names = [*service_dns_names(owner.name, owner.namespace), *spec.tls.dns_names]
    return tuple(dict.fromkeys([*names, "localhost", "127.0.0.1"]))


def _ratio(value: float) -> str:
    return format(value, "g")
