"""Values: `helm lint --strict` passes, bad values are refused naming the key, every key is
documented, and the README's values table is the one values.yaml produces."""

from __future__ import annotations

import os
import re
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from tests.helm.chart import CHART, VALUES_FILES, claimed_versions, load_values, render_values
from tests.helm.values_doc import leaf_keys, lookup, params, values_table

VALUES_TEXT = (CHART / "values.yaml").read_text()
DEFAULTS: dict[str, Any] = yaml.safe_load(VALUES_TEXT)
SCHEMA_KEYS_WITHOUT_VALUES = {"global"}
README = CHART / "README.md"
TABLE_START, TABLE_END = "<!-- values-table:start -->\n", "<!-- values-table:end -->"


@pytest.mark.parametrize("version", claimed_versions())
@pytest.mark.parametrize("name", sorted(VALUES_FILES))
def test_lint_strict_passes(name: str, version: str) -> None:
    report = helm.lint(CHART, load_values(name), strict=True, kube_version=f"v{version}.0")
    assert report["errors"] == []
    # Severity 1 is advice (Gale has no icon to point at); 2 warnings and 3 errors fail strict.
    findings = [m for m in report["messages"] if m["severity"] >= 2]
    assert findings == []
    assert {m["error"] for m in report["messages"]} <= {"icon is recommended"}


def test_lint_reports_a_bad_value() -> None:
    """helm lint really does check values against the schema (so the test above can fail)."""
    report = helm.lint(CHART, {"operator": {"replicas": 0}}, strict=True)
    assert any("replicas" in error for error in report["errors"])


BAD_VALUES = [
    ({"operatr": {}}, "'operatr' not allowed"),
    ({"operator": {"replicas": 0}}, "/operator/replicas"),
    ({"operator": {"peering": {"lifetime": 1}}}, "/operator/peering/lifetime"),
    ({"operator": {"image": {"tag": "latest"}}}, "/operator/image/tag"),
    ({"operator": {"image": {"digest": "sha256:abc"}}}, "/operator/image/digest"),
    ({"operator": {"watchNamespaces": ["Team_A"]}}, "/operator/watchNamespaces/0"),
    (
        {"operator": {"resources": {"requests": {"cpu": "lots"}}}},
        "/operator/resources/requests/cpu",
    ),
    ({"operator": {"containerSecurityContext": {"readOnlyRootFS": True}}}, "'readOnlyRootFS'"),
    ({"operator": {"ports": {"metrics": 0}}}, "/operator/ports/metrics"),
    ({"networkPolicy": {"allowExternl": False}}, "'allowExternl' not allowed"),
    ({"pdb": {"maxUnavailable": "150%"}}, "/pdb/maxUnavailable"),
    (
        {"metrics": {"serviceMonitor": {"interval": "30 seconds"}}},
        "/metrics/serviceMonitor/interval",
    ),
    ({"instance": {"enabled": True}}, "/instance/mongodb"),
    ({"instance": {"tls": {"mode": "acme"}}}, "/instance/tls/mode"),
    ({"instance": {"tls": {"mode": "certManager"}}}, "/instance/tls/issuerRef"),
    ({"instance": {"config": {"GALE_PORT": 8888}}}, "/instance/config/GALE_PORT"),
    ({"instance": {"mongodb": {"uri": "postgres://db"}}}, "/instance/mongodb/uri"),
    ({"instance": {"replicas": -1}}, "/instance/replicas"),
    ({"commonLabels": {"app.kubernetes.io/name": "x"}}, "/commonLabels"),
    ({"operator": {"podLabels": {"helm.sh/chart": "x"}}}, "/operator/podLabels"),
]


@pytest.mark.parametrize(("values", "names"), BAD_VALUES, ids=[n for _, n in BAD_VALUES])
def test_bad_values_are_refused_naming_the_key(values: dict[str, Any], names: str) -> None:
    with pytest.raises(helm.HelmValuesError) as refused:
        render_values(values)
    assert names in str(refused.value)


@pytest.mark.parametrize(
    ("values", "names"),
    [
        (
            {
                "operator": {"watchNamespaces": ["team-a"]},
                "instance": {"enabled": True, "mongodb": {"existingSecret": "db"}},
            },
            "operator.watchNamespaces",
        ),
        ({"serviceAccount": {"create": False, "name": ""}}, "serviceAccount.name"),
        ({"operator": {"ports": {"metrics": 9000, "health": 9000}}}, "operator.ports.health"),
    ],
    ids=["instance-outside-watched-namespaces", "service-account-without-name", "same-ports"],
)
def test_inconsistent_values_fail_the_render_naming_the_key(
    values: dict[str, Any], names: str
) -> None:
    with pytest.raises(helm.HelmRenderError) as refused:
        render_values(values)
    assert names in str(refused.value)


def test_every_value_is_documented() -> None:
    documented = [param.key for param in params(VALUES_TEXT)]
    assert len(documented) == len(set(documented)), "a key is documented twice"
    for key in documented:
        lookup(DEFAULTS, key)  # raises KeyError for a @param naming no value
    for key in leaf_keys(DEFAULTS):
        parts = key.split(".")
        prefixes = {".".join(parts[:end]) for end in range(1, len(parts) + 1)}
        assert prefixes & set(documented), f"{key} has no ## @param line in values.yaml"


def test_schema_describes_exactly_the_documented_values() -> None:
    with helm.Chart.load(CHART) as chart:
        schema = chart.schema
    assert schema is not None
    # Draft-07, which every Helm 3 and 4 release understands.
    jsonschema.Draft7Validator.check_schema(schema)

    def schema_at(key: str) -> dict[str, Any]:
        node = schema
        for part in key.split("."):
            if "$ref" in node:
                node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
            node = node["properties"][part]
        return node

    for param in params(VALUES_TEXT):
        schema_at(param.key)  # KeyError: documented but unknown to the schema
    top = set(schema["properties"]) - SCHEMA_KEYS_WITHOUT_VALUES
    assert top == set(DEFAULTS)


def test_readme_values_table_matches_values_yaml() -> None:
    """`make golden` rewrites the table; otherwise the README must already hold it."""
    table = values_table(VALUES_TEXT, DEFAULTS)
    text = README.read_text()
    match = re.search(re.escape(TABLE_START) + r"(.*?)" + re.escape(TABLE_END), text, re.S)
    assert match, f"README.md lacks the {TABLE_START.strip()} ... {TABLE_END} markers"
    if os.environ.get("GALE_UPDATE_GOLDEN") == "1":
        README.write_text(text[: match.start(1)] + table + text[match.end(1) :])
        return
    assert match.group(1) == table, "README values table is stale: run `make golden`"
