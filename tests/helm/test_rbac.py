"""The chart grants the operator exactly what its code declares it uses, and nothing more.

The expected permissions come from ``gale_operator.core.kinds`` (MANAGED_RESOURCES,
FRAMEWORK_RESOURCES, CLUSTER_SCOPED), the list the operator's own code addresses the API
through, so a new resource or verb there fails this test until the chart grants it.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from gale_operator.core import kinds

from tests.helm.chart import NAMESPACE, Manifest, Render, render_file, render_values

Grant = tuple[str, str, str]  # (apiGroup, resource, verb)


def _grants(accesses: tuple[kinds.ResourceAccess, ...]) -> set[Grant]:
    return {(a.group, a.resource, verb) for a in accesses for verb in a.verbs}


def _base(resource: str) -> str:
    return resource.split("/", 1)[0]


DECLARED = _grants(kinds.MANAGED_RESOURCES + kinds.FRAMEWORK_RESOURCES)
CLUSTER = {grant for grant in DECLARED if _base(grant[1]) in kinds.CLUSTER_SCOPED}
NAMESPACED = DECLARED - CLUSTER


def _rules_of(role: Manifest) -> set[Grant]:
    grants: set[Grant] = set()
    for rule in role["rules"]:
        assert rule.keys() == {"apiGroups", "resources", "verbs"}, rule
        for value in (*rule["apiGroups"], *rule["resources"], *rule["verbs"]):
            assert "*" not in value, f"wildcard in {rule}"
        grants |= {
            (g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
        }
    return grants


def _bound_roles(rendered: Render) -> dict[tuple[str, str | None], set[Grant]]:
    """What the operator's ServiceAccount can do: (kind, namespace) of the role -> grants."""
    roles = {
        (r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]): r
        for r in rendered.kind("ClusterRole") + rendered.kind("Role")
    }
    account = rendered.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    bound: dict[tuple[str, str | None], set[Grant]] = defaultdict(set)
    for binding in rendered.kind("ClusterRoleBinding") + rendered.kind("RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]
        namespace = binding["metadata"].get("namespace")
        ref = binding["roleRef"]
        role = roles[
            (ref["kind"], None if ref["kind"] == "ClusterRole" else namespace, ref["name"])
        ]
        bound[(ref["kind"], namespace)] |= _rules_of(role)
    return bound


CLUSTER_PEERING = _grants(kinds.CLUSTER_PEERING_RESOURCES)
NAMESPACED_PEERING = _grants(kinds.NAMESPACED_PEERING_RESOURCES)


def test_watching_all_namespaces_grants_one_cluster_role_with_the_cluster_peering() -> None:
    bound = _bound_roles(render_file("default"))
    assert bound == {("ClusterRole", None): DECLARED | CLUSTER_PEERING}


def test_watching_namespaces_grants_roles_there_and_only_discovery_cluster_wide() -> None:
    rendered = render_file("namespaced")
    watched = rendered.values["operator"]["watchNamespaces"]
    expected = {("ClusterRole", None): CLUSTER} | {
        ("Role", ns): NAMESPACED | NAMESPACED_PEERING for ns in watched
    }
    assert _bound_roles(rendered) == expected


@pytest.mark.parametrize("watched", [[], ["team-a"]])
def test_a_standalone_operator_is_granted_no_peering(watched: list[str]) -> None:
    rendered = render_values(
        {"operator": {"replicas": 1, "peering": {"enabled": False}, "watchNamespaces": watched}}
    )
    granted = set().union(*_bound_roles(rendered).values())
    assert not granted & (CLUSTER_PEERING | NAMESPACED_PEERING)
    assert granted >= NAMESPACED


def test_namespaced_mode_grants_nothing_namespaced_cluster_wide() -> None:
    """A ClusterRole holding e.g. secrets would reach every namespace, defeating the scoping."""
    (cluster_role,) = render_file("namespaced").kind("ClusterRole")
    assert {_base(resource) for _, resource, _ in _rules_of(cluster_role)} <= kinds.CLUSTER_SCOPED


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    rendered = render_values({"rbac": {"create": False}})
    assert not {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} & {
        each["kind"] for each in rendered.objects
    }
