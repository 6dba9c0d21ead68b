"""Write the autoscaler's replica count back into a Microservice's ``spec.replicas``.

The one place the operator writes its own resource's spec (see
:mod:`gale_operator.core.scaling` for why). The write is conditional on the
``resourceVersion`` the decision was made from, so it never overwrites a change the user
made in the meantime; a conflict just means the next pass decides again on fresher data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gale_operator.core import kinds
from gale_operator.kube.client import ApiError, KubeClient


async def hand_back_replicas(client: KubeClient, body: Mapping[str, Any], *, replicas: int) -> bool:
    """``True`` when written, ``False`` when the Microservice changed since it was read."""
    meta = body["metadata"]
    patch: dict[str, Any] = {"spec": {"replicas": replicas}}
    if meta.get("resourceVersion"):
        patch["metadata"] = {"resourceVersion": meta["resourceVersion"]}
    try:
        await client.patch(
            kinds.MICROSERVICE, namespace=meta["namespace"], name=meta["name"], patch=patch
        )
    except ApiError as exc:
        if exc.status == 409:
            return False
        raise
    return True
