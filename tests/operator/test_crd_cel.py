"""The CRD's CEL rules, evaluated with a CEL interpreter (cel-python) on accepted and rejected
specs, since no API server runs here to evaluate them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import celpy
import pytest

from tests.operator.cluster import SAMPLE_PATH, load_yaml
from tests.operator.test_crd import SCHEMA

_ENV = celpy.Environment()


def rules_at(path: str) -> list[dict[str, Any]]:
    """The ``x-kubernetes-validations`` at a dotted path; ``[]`` steps into array items."""
    node = SCHEMA
    for step in path.split("."):
        node = node["items"] if step == "[]" else node["properties"][step]
    rules: list[dict[str, Any]] = node.get("x-kubernetes-validations") or []
    assert rules, f"no CEL rules at {path}"
    return rules


def failing(path: str, value: Any, *, old: Any = None) -> list[str]:
    """Messages of the rules at ``path`` that reject ``value`` (transition rules need ``old``)."""
    messages = []
    for rule in rules_at(path):
        if "oldSelf" in rule["rule"] and old is None:
            continue  # transition rules run only on update
        activation = {"self": celpy.json_to_cel(value)}
        if old is not None:
            activation["oldSelf"] = celpy.json_to_cel(old)
        program = _ENV.program(_ENV.compile(rule["rule"]))
        result = program.evaluate(activation)
        assert isinstance(result, celpy.celtypes.BoolType), (rule["rule"], result)
        if not result:
            messages.append(rule["message"])
    return messages


def all_rule_paths(node: dict[str, Any] = SCHEMA, path: str = "") -> Iterator[str]:
    if node.get("x-kubernetes-validations"):
        yield path.lstrip(".")
    for name, child in (node.get("properties") or {}).items():
        yield from all_rule_paths(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from all_rule_paths(node["items"], f"{path}.[]")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("spec.autoscaling", {"minReplicas": 5, "maxReplicas": 2}, "must not exceed"),
        ("spec.tls", {"mode": "certManager"}, "needs tls.issuerRef"),
        ("spec.disruption", {"minAvailable": 1, "maxUnavailable": 1}, "exactly one"),
        ("spec.disruption", {}, "exactly one"),
        ("spec.rollout", {"maxSurge": 0, "maxUnavailable": "0%"}, "cannot both be zero"),
        ("spec.rollout", {"maxSurge": "0", "maxUnavailable": 0}, "cannot both be zero"),
        ("spec.env.[]", {"name": "A", "value": "1", "valueFrom": {}}, "not both"),
        ("spec.env.[].valueFrom", {}, "exactly one"),
        ("spec.networkPolicy.allowFrom.[]", {}, "namespaceSelector or a podSelector"),
    ],
)
def test_rules_reject_with_their_message(path: str, value: Any, message: str) -> None:
    [rejected] = failing(path, value)
    assert message in rejected


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.autoscaling", {"minReplicas": 2, "maxReplicas": 2}),
        ("spec.tls", {"mode": "selfSigned"}),
        ("spec.tls", {"mode": "certManager", "issuerRef": {"name": "le"}}),
        ("spec.disruption", {"minAvailable": "50%"}),
        ("spec.rollout", {"maxSurge": "25%", "maxUnavailable": 0}),
        ("spec.rollout", {"maxSurge": 0, "maxUnavailable": 1}),
        ("spec.env.[].valueFrom", {"secretKeyRef": {"name": "s", "key": "k"}}),
        ("spec.networkPolicy.allowFrom.[]", {"podSelector": {}}),
    ],
)
def test_rules_accept_valid_values(path: str, value: Any) -> None:
    assert failing(path, value) == []


def test_database_is_immutable_on_update() -> None:
    old = {"uriSecretRef": {"name": "db"}, "database": "shop"}
    assert failing("spec.mongodb", {**old, "uriSecretRef": {"name": "db2"}}, old=old) == []
    [message] = failing("spec.mongodb", {**old, "database": "other"}, old=old)
    assert "immutable" in message


def test_the_sample_passes_every_rule() -> None:
    sample = load_yaml(SAMPLE_PATH)
    checked = 0
    for path in all_rule_paths():
        values: list[Any] = [sample]
        for step in path.split("."):
            if step == "[]":
                values = [item for value in values for item in value]
            else:
                values = [value[step] for value in values if step in value]
        for value in values:
            assert failing(path, value, old=value) == [], path
            checked += 1
    assert checked >= 5
