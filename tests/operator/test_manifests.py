"""Every object the operator generates passes kubernetes-validate (strict) for each supported
Kubernetes version, across the spec variants that change their shape."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from gale_operator.core import kinds
from gale_operator.core.desired import desired_objects
from gale_operator.core.naming import Owner
from gale_operator.core.spec import parse_spec

from tests.operator.cluster import SAMPLE_PATH, load_yaml
from tests.operator.test_crd import KUBERNETES_VERSIONS

SAMPLE_SPEC: dict[str, Any] = load_yaml(SAMPLE_PATH)["spec"]
VARIANTS: dict[str, dict[str, Any]] = {
    "sample": {},
    "everything": {
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 9},
        "networkPolicy": {
            "enabled": True,
            "allowFrom": [{"namespaceSelector": {"matchLabels": {"team": "web"}}}],
        },
        "tls": {"mode": "certManager", "issuerRef": {"name": "letsencrypt"}},
        "disruption": {"minAvailable": "50%"},
        "observability": {"otlpEndpoint": "http://collector:4318", "samplingRatio": 0.5},
        "env": [{"name": "EXTRA", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "rollout": {"maxSurge": 1, "maxUnavailable": "10%", "paused": True},
        "service": {"type": "LoadBalancer", "port": 443},
    },
}
#: Custom resources have no built-in schema; the ServiceMonitor is checked in test_desired.
BUILT_IN = [kind for kind in kinds.CHILD_KINDS if kind != kinds.SERVICE_MONITOR]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_generated_objects_are_valid(variant: str, version: str) -> None:
    spec = parse_spec({**SAMPLE_SPEC, **VARIANTS[variant]})
    objects = desired_objects(
        spec,
        owner=Owner(name="gale", namespace="default", uid="0000-1111"),
        service_monitor_available=True,
    )
    checked = 0
    for kind in BUILT_IN:
        if objects[kind] is not None:
            kubernetes_validate.validate(objects[kind], version, strict=True)
            checked += 1
    assert checked >= 4
