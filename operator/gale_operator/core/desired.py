"""The objects a Microservice should have, as a pure function of its spec.

Each ``desired_*`` returns a complete manifest (or ``None`` when the object should not
exist); :func:`desired_objects` assembles them in apply order. No I/O happens here: what the
cluster offers (e.g. whether the ServiceMonitor CRD exists) comes in as arguments.
"""

from __future__ import annotations

from typing import Any

from gale_operator.core import kinds
from gale_operator.core.naming import CONTAINER_PORT, PART_OF_LABEL, Owner
from gale_operator.core.pod import pod_template, port_name
from gale_operator.core.scaling import disruption_budget
from gale_operator.core.spec import MicroserviceSpec

Manifest = dict[str, Any]


def _manifest(kind: kinds.Kind, metadata: dict[str, Any], **body: Any) -> Manifest:
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": metadata, **body}


def desired_deployment(spec: MicroserviceSpec, *, owner: Owner) -> Manifest:
    """The Deployment; without ``replicas`` while an HPA owns that field."""
    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": owner.selector},
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": spec.rollout.progress_deadline_seconds,
        "paused": spec.rollout.paused,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": spec.rollout.max_surge,
                "maxUnavailable": spec.rollout.max_unavailable,
            },
        },
        "template": pod_template(spec, owner=owner),
    }
    if not spec.autoscaling.enabled:
        deployment_spec = {"replicas": spec.replicas, **deployment_spec}
    return _manifest(kinds.DEPLOYMENT, owner.metadata(), spec=deployment_spec)


def desired_service(spec: MicroserviceSpec, *, owner: Owner) -> Manifest:
    port = port_name(spec)
    return _manifest(
        kinds.SERVICE,
        owner.metadata(),
        spec={
            "type": spec.service.type,
            "selector": owner.selector,
            "ports": [
                {"name": port, "port": spec.service.port, "targetPort": port, "protocol": "TCP"}
            ],
        },
    )


def desired_configmap(spec: MicroserviceSpec, *, owner: Owner) -> Manifest:
    return _manifest(kinds.CONFIGMAP, owner.metadata(owner.config_map_name), data=dict(spec.config))


def desired_pdb(spec: MicroserviceSpec, *, owner: Owner) -> Manifest:
    """The PDB, with a budget that never forbids every eviction (see ``disruption_budget``)."""
    budget = disruption_budget(spec)
    return _manifest(
        kinds.PDB,
        owner.metadata(),
        spec={
            "selector": {"matchLabels": owner.selector},
            # A crash-looping pod must not block node drains.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            **budget,
        },
    )


def desired_hpa(spec: MicroserviceSpec, *, owner: Owner) -> Manifest | None:
    if not spec.autoscaling.enabled:
        return None
    scaling = spec.autoscaling
    return _manifest(
        kinds.HPA,
        owner.metadata(),
        spec={
            "scaleTargetRef": {
                "apiVersion": kinds.DEPLOYMENT.api_version,
                "kind": kinds.DEPLOYMENT.kind,
                "name": owner.name,
            },
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.target_cpu_percent,
                        },
                    },
                }
            ],
        },
    )


def desired_network_policy(spec: MicroserviceSpec, *, owner: Owner) -> Manifest | None:
    """Ingress only to the service port, from ``allowFrom`` peers or else the own namespace."""
    if not spec.network_policy.enabled:
        return None
    peers = [dict(peer) for peer in spec.network_policy.allow_from] or [{"podSelector": {}}]
    return _manifest(
        kinds.NETWORK_POLICY,
        owner.metadata(),
        spec={
            "podSelector": {"matchLabels": owner.selector},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers, "ports": [{"port": CONTAINER_PORT, "protocol": "TCP"}]}],
        },
    )


def desired_service_monitor(
    spec: MicroserviceSpec, *, owner: Owner, available: bool
) -> Manifest | None:
    """A ServiceMonitor when wanted and the cluster has the Prometheus Operator's CRD."""
    if not (spec.observability.service_monitor and available):
        return None
    endpoint: dict[str, Any] = {"port": port_name(spec), "path": "/metrics", "interval": "30s"}
    if spec.tls.enabled:
        endpoint["scheme"] = "https"
        endpoint["tlsConfig"] = {
            "ca": {"secret": {"name": owner.tls_secret_name, "key": "ca.crt"}},
            "serverName": f"{owner.name}.{owner.namespace}.svc",
        }
    return _manifest(
        kinds.SERVICE_MONITOR,
        owner.metadata(),
        spec={
            "jobLabel": PART_OF_LABEL,
            "selector": {"matchLabels": owner.selector},
            "endpoints": [endpoint],
        },
    )


def desired_objects(
    spec: MicroserviceSpec, *, owner: Owner, service_monitor_available: bool
) -> dict[kinds.Kind, Manifest | None]:
    """Every child kind mapped to its manifest, or to ``None`` when it should not exist."""
    return {
        kinds.CONFIGMAP: desired_configmap(spec, owner=owner),
        kinds.SERVICE: desired_service(spec, owner=owner),
        kinds.DEPLOYMENT: desired_deployment(spec, owner=owner),
        kinds.PDB: desired_pdb(spec, owner=owner),
        kinds.HPA: desired_hpa(spec, owner=owner),
        kinds.NETWORK_POLICY: desired_network_policy(spec, owner=owner),
        kinds.SERVICE_MONITOR: desired_service_monitor(
            spec, owner=owner, available=service_monitor_available
        ),
    }
