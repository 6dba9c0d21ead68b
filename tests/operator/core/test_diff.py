"""Minimal patches: nothing when nothing differs, only what differs otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from gale_operator.core.diff import is_subset, merge_patch, spec_patch

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "a", "labels": {"x": "1"}, "ownerReferences": [{"uid": "u"}]},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
}
OBSERVED: dict[str, Any] = {
    "metadata": {
        "name": "a",
        "uid": "z",
        "labels": {"x": "1", "extra": "y"},
        "ownerReferences": [{"uid": "u"}],
        "resourceVersion": "9",
    },
    "spec": {
        "replicas": 2,
        "strategy": {},
        "template": {
            "spec": {
                "containers": [{"name": "c", "image": "i:1", "imagePullPolicy": "IfNotPresent"}]
            }
        },
    },
    "status": {"replicas": 2},
}


def test_server_defaults_and_foreign_fields_are_not_a_difference() -> None:
    assert spec_patch(DESIRED, OBSERVED) == {}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"spec": {"replicas": 5}}, {"spec": {"replicas": 5}}),
        ({"metadata": {"labels": {"x": "2"}}}, {"metadata": {"labels": {"x": "2"}}}),
    ],
)
def test_only_the_difference_is_patched(change: dict[str, Any], expected: dict[str, Any]) -> None:
    desired = merge_patch(change, {})  # a copy of the change, used as the new desired part
    want = {**DESIRED, **{k: {**DESIRED[k], **v} for k, v in desired.items()}}
    assert spec_patch(want, OBSERVED) == expected


def test_lists_are_replaced_whole_when_an_item_differs() -> None:
    changed = {
        **DESIRED,
        "spec": {
            **DESIRED["spec"],
            "template": {"spec": {"containers": [{"name": "c", "image": "i:2"}]}},
        },
    }
    patch = spec_patch(changed, OBSERVED)
    assert patch == {
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:2"}]}}}
    }


def test_configmap_data_is_owned_exactly() -> None:
    patch = merge_patch({"data": {"A": "1"}}, {"data": {"A": "1", "OLD": "x"}})
    assert patch == {"data": {"OLD": None}}
    assert merge_patch({"data": {"A": "1"}}, {"data": {"A": "1"}}) == {}


@pytest.mark.parametrize(
    ("desired", "observed", "subset"),
    [
        ({"a": [1]}, {"a": [1, 2]}, False),
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ([1], {"a": 1}, False),
        ({"a": {"b": 1}}, {"a": 1}, False),
    ],
)
def test_is_subset(desired: Any, observed: Any, subset: bool) -> None:
    assert is_subset(desired, observed) is subset


@pytest.mark.parametrize(
    ("desired", "stored", "same"),
    [
        ("0.5", "500m", True),
        ("1024Mi", "1Gi", True),
        (1, "1", True),
        ("1e3", "1k", True),
        ("100m", "200m", False),
        ("1Gi", "1G", False),
    ],
)
def test_resource_quantities_compare_by_value(desired: Any, stored: Any, same: bool) -> None:
    have = {"spec": {"resources": {"requests": {"cpu": stored, "memory": "1Gi"}}}}
    want = {"spec": {"resources": {"requests": {"cpu": desired, "memory": "2Gi"}}}}
    changed = merge_patch(want, have)["spec"]["resources"]["requests"]
    assert changed == ({"memory": "2Gi"} if same else {"cpu": desired, "memory": "2Gi"})
    assert (
        merge_patch({"spec": {"resources": {"requests": {"cpu": desired}}}}, have) == {}
    ) is same


def test_quantity_semantics_stay_inside_resources() -> None:
    assert merge_patch({"env": {"value": "0.5"}}, {"env": {"value": "500m"}}) != {}
