"""Every rendered object is valid Kubernetes for the oldest and newest versions the chart claims.

Built-in kinds go through kubernetes-validate in strict mode (unknown fields rejected).
Microservice instances are checked against the CRD's own openAPIV3Schema, made strict the
same way. ServiceMonitor has no schema here (see test_service_monitor_uses_only_known_fields).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from packaging.version import Version

from tests.helm.chart import (
    CHART,
    Manifest,
    Render,
    chart_crds,
    claimed_versions,
    microservice_schema,
    render_file,
)

NOT_BUILTIN = {"Microservice", "ServiceMonitor", "KopfPeering", "ClusterKopfPeering"}


def test_claimed_versions_have_schemas() -> None:
    """A lower bound kubernetes-validate cannot check would make the claim untested."""
    known = [Version(v) for v in kubernetes_validate.utils.all_versions()]
    oldest, newest = (Version(v) for v in claimed_versions())
    assert min(known) <= oldest < newest


@pytest.mark.parametrize("version", claimed_versions())
def test_builtin_objects_validate_strictly(rendered: Render, version: str) -> None:
    objects = [each for each in rendered.objects if each["kind"] not in NOT_BUILTIN]
    assert objects
    for each in objects:
        try:
            kubernetes_validate.validate(each, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            pytest.fail(
                f"{each['kind']}/{each['metadata']['name']} on {version}: {path}: {error.message}"
            )


@pytest.mark.parametrize("version", claimed_versions())
def test_shipped_crds_validate_strictly(version: str) -> None:
    crds = chart_crds()
    assert sorted(crd["metadata"]["name"] for crd in crds) == [
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
        "microservices.gale.dev",
    ]
    for crd in crds:
        kubernetes_validate.validate(crd, version, strict=True)


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused, as the API server's strict field validation does.

    Objects that declare properties get ``additionalProperties: false`` unless they keep
    unknown fields on purpose; ``metadata`` is left open (the API server's own schema).
    """
    strict = copy.deepcopy(schema)

    def walk(node: dict[str, Any], *, key: str = "") -> None:
        keeps_unknown = node.get("x-kubernetes-preserve-unknown-fields", False)
        if node.get("type") == "object" and "properties" in node and key != "metadata":
            node.setdefault("additionalProperties", keeps_unknown)
        for name, child in node.get("properties", {}).items():
            walk(child, key=name)
        if isinstance(node.get("items"), dict):
            walk(node["items"])
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"])

    walk(strict)
    return strict


def _microservices() -> list[Manifest]:
    found = [
        m
        for name in ("instance", "tls-selfsigned", "tls-certmanager")
        for m in render_file(name).kind("Microservice")
    ]
    assert len(found) == 3
    return found


@pytest.mark.parametrize("microservice", _microservices(), ids=lambda m: m["metadata"]["name"])
def test_microservice_matches_the_crd_schema(microservice: Manifest) -> None:
    schema = microservice_schema()
    assert microservice["apiVersion"] == f"gale.dev/{_storage_version()}"
    validator = jsonschema.Draft202012Validator(
        _strict(schema), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [
        f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(microservice)
    ]
    assert not errors


def test_crd_strictness_catches_a_typo() -> None:
    """The strict CRD check is not vacuous: a misspelt field is refused."""
    microservice = copy.deepcopy(_microservices()[0])
    microservice["spec"]["replica"] = 2
    validator = jsonschema.Draft202012Validator(_strict(microservice_schema()))
    assert [e.message for e in validator.iter_errors(microservice)]


def _storage_version() -> str:
    crd = yaml.safe_load((CHART / "crds" / "microservices.gale.dev.yaml").read_text())
    (version,) = [v["name"] for v in crd["spec"]["versions"] if v["storage"]]
    return str(version)


#: The part of prometheus-operator's ServiceMonitor (monitoring.coreos.com/v1) that a chart
#: may set, transcribed from its API reference. No schema package for it is available here,
#: so this subset refuses unknown or misspelt fields and malformed durations in what we render.
_DURATION = {
    "type": "string",
    "pattern": r"^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$",
}
_LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array", "items": {"type": "object"}},
    },
}
SERVICE_MONITOR_SUBSET = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "sampleLimit": {"type": "integer", "minimum": 0},
                "selector": _LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "targetPort": {"type": ["string", "integer"]},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                            "honorLabels": {"type": "boolean"},
                            "honorTimestamps": {"type": "boolean"},
                            "relabelings": {"type": "array", "items": {"$ref": "#/$defs/relabel"}},
                            "metricRelabelings": {
                                "type": "array",
                                "items": {"$ref": "#/$defs/relabel"},
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "relabel": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "action": {
                    "enum": [
                        "replace",
                        "Replace",
                        "keep",
                        "Keep",
                        "drop",
                        "Drop",
                        "hashmod",
                        "HashMod",
                        "labelmap",
                        "LabelMap",
                        "labeldrop",
                        "LabelDrop",
                        "labelkeep",
                        "LabelKeep",
                        "lowercase",
                        "Lowercase",
                        "uppercase",
                        "Uppercase",
                        "keepequal",
                        "KeepEqual",
                        "dropequal",
                        "DropEqual",
                    ]
                },
                "sourceLabels": {"type": "array", "items": {"type": "string"}},
                "separator": {"type": "string"},
                "targetLabel": {"type": "string"},
                "regex": {"type": "string"},
                "modulus": {"type": "integer"},
                "replacement": {"type": "string"},
            },
        }
    },
}


def test_service_monitor_uses_only_known_fields() -> None:
    (monitor,) = render_file("hardened").kind("ServiceMonitor")
    validator = jsonschema.Draft202012Validator(SERVICE_MONITOR_SUBSET)
    assert not [
        f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(monitor)
    ]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert _seconds(endpoint["scrapeTimeout"]) <= _seconds(endpoint["interval"])


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def test_readme_sample_microservice_matches_the_crd_schema() -> None:
    readme = (CHART / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    samples = [
        doc for doc in map(yaml.safe_load, blocks) if doc and doc.get("kind") == "Microservice"
    ]
    assert samples, "the README shows no sample Microservice"
    validator = jsonschema.Draft202012Validator(_strict(microservice_schema()))
    for sample in samples:
        assert sample["apiVersion"] == f"gale.dev/{_storage_version()}"
        assert not [
            f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(sample)
        ]


def test_artifact_hub_annotation_names_the_shipped_crd() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    (listed,) = yaml.safe_load(chart["annotations"]["artifacthub.io/crds"])
    (crd,) = [crd for crd in chart_crds() if crd["spec"]["group"] == "gale.dev"]
    assert listed["name"] == crd["metadata"]["name"]
    assert listed["kind"] == crd["spec"]["names"]["kind"]
    assert listed["version"] == _storage_version()
