"""The Microservice CRD: one source, a structural schema, and samples that satisfy it.

A real API server rejects a non-structural schema at install time; none runs here, so these
checks encode its rules (every node typed, no ``additionalProperties`` beside
``properties``, defaults that pass their own schema).
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.operator.cluster import CRD_PATH, ROOT, SAMPLE_PATH, load_yaml

CRD = load_yaml(CRD_PATH)
[VERSION] = CRD["spec"]["versions"]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]
#: The oldest and newest Kubernetes minor versions Gale supports.
KUBERNETES_VERSIONS = ("1.30", "1.37")


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in (node.get("properties") or {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}[*]")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")


def crd_definitions() -> Iterator[pathlib.Path]:
    """Every YAML file in the repository that defines the Microservice CRD."""
    for path in ROOT.rglob("*.y*ml"):
        if {".venv", "node_modules", "templates", ".git"} & set(path.parts):
            continue
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        if any(
            isinstance(doc, dict)
            and doc.get("kind") == "CustomResourceDefinition"
            and (doc.get("metadata") or {}).get("name") == "microservices.gale.dev"
            for doc in documents
        ):
            yield path


def test_the_helm_chart_file_is_the_only_definition_of_the_crd() -> None:
    """The chart ships ``crds/`` verbatim, so one file means cluster and tests see the same."""
    assert list(crd_definitions()) == [CRD_PATH]
    assert CRD_PATH.parent == ROOT / "helm" / "gale" / "crds"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_crd_manifest_is_valid_for_supported_kubernetes(version: str) -> None:
    kubernetes_validate.validate(CRD, version, strict=True)


def test_schema_is_structural() -> None:
    for path, node in walk(SCHEMA):
        exempt = node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields"
        )
        assert node.get("type") or exempt, f"{path or '<root>'} has no type"
        assert not ("properties" in node and "additionalProperties" in node), path
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, f"{path}: int-or-string must not declare a type"
        for rule in node.get("x-kubernetes-validations") or []:
            assert rule.get("message"), f"{path}: CEL rule {rule['rule']!r} needs a message"


def test_defaults_satisfy_their_own_schema() -> None:
    defaults = [(path, node) for path, node in walk(SCHEMA) if "default" in node]
    assert len(defaults) > 20
    for _, node in defaults:
        jsonschema.validate(node["default"], json_schema(node))


def test_cross_field_rules_are_declared() -> None:
    rules = {
        path: [r["rule"] for r in node.get("x-kubernetes-validations") or []]
        for path, node in walk(SCHEMA)
    }
    assert any("minReplicas <= self.maxReplicas" in r for r in rules[".spec.autoscaling"])
    assert any("issuerRef" in r for r in rules[".spec.tls"])
    assert any("oldSelf.database" in r for r in rules[".spec.mongodb"])


def test_scale_subresource_and_printer_columns() -> None:
    assert VERSION["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    assert "status" in VERSION["subresources"]
    columns = [c["name"] for c in VERSION["additionalPrinterColumns"]]
    assert columns == ["Ready", "Replicas", "Available", "Version", "TLS", "Age"]
    assert CRD["spec"]["names"]["shortNames"] == ["ms"]


def json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI v3 subset the CRD uses, as JSON Schema (int-or-string made explicit)."""
    out = copy.deepcopy(node)
    for _, sub in walk(out):
        if sub.pop("x-kubernetes-int-or-string", None):
            sub["type"] = ["integer", "string"]
        for key in [k for k in sub if k.startswith("x-kubernetes-")]:
            del sub[key]
        if (
            sub.get("type") == "object"
            and "properties" in sub
            and "additionalProperties" not in sub
        ):
            sub["additionalProperties"] = False  # unknown fields are pruned: flag them in samples
    return out


def test_sample_is_valid_against_the_schema() -> None:
    sample = load_yaml(SAMPLE_PATH)
    schema = json_schema(SCHEMA)
    schema["properties"]["metadata"] = {"type": "object"}
    jsonschema.validate(sample, schema)


@pytest.mark.parametrize(
    "change",
    [
        {"replicas": 101},
        {"tls": {"mode": "sometimes"}},
        {"image": "Bad Image"},
        {"service": {"port": 0}},
        {"unknownField": 1},
    ],
)
def test_schema_rejects_bad_specs(change: dict[str, Any]) -> None:
    sample = load_yaml(SAMPLE_PATH)
    sample["spec"].update(change)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(sample, json_schema(SCHEMA))
