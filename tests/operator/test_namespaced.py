"""``--namespace``: the operator serves the namespaces it is given and leaves the rest alone.

kopf lists and watches the ``namespaces`` resource in this mode, which plain kmock cannot
serve; the emulator can.
"""

from __future__ import annotations

import pathlib

from gale_operator.core import kinds

from tests.operator.cluster import MS, emulated_cluster, permissions_used, wait_until
from tests.operator.test_e2e import condition, make_microservice, make_secret


def test_only_the_given_namespace_is_served(tmp_path: pathlib.Path) -> None:
    with (
        (tmp_path / "processes.log").open("wb") as log,
        emulated_cluster(tmp_path, namespaces=("team-a",), log=log) as (api, info),
    ):
        for ns in ("team-a", "team-b"):
            make_secret(api, ns)
            make_microservice(api, ns)
        wait_until(lambda: condition(api, "team-a", "Ready"), what="team-a reconciled")
        wait_until(lambda: api.get("/apis/apps/v1/namespaces/team-a/deployments/gale"))
        assert api.get("/apis/apps/v1/namespaces/team-b/deployments/gale") is None
        untouched = api.get(f"{MS}/namespaces/team-b/microservices/gale")
        assert "status" not in untouched
        assert not untouched["metadata"].get("finalizers")
        used = permissions_used(info["access_log"])
        assert {("", "namespaces", "list"), ("", "namespaces", "watch")} <= used
        granted = {
            (access.group, access.resource, verb)
            for access in (*kinds.MANAGED_RESOURCES, *kinds.FRAMEWORK_RESOURCES)
            for verb in access.verbs
        }
        assert used - granted == set()
