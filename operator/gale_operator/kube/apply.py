"""Make one child object match its desired manifest, writing only what differs.

Objects that exist but are controlled by something else are never taken over: that is a
conflict for a human to resolve, reported as such.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from gale_operator.core.diff import spec_patch
from gale_operator.core.kinds import Kind
from gale_operator.core.naming import Owner, is_owned_by
from gale_operator.kube.client import ApiError, KubeClient


class Action(enum.StrEnum):
    CREATED = "created"
    PATCHED = "patched"
    DELETED = "deleted"
    UNCHANGED = "unchanged"


@dataclasses.dataclass(frozen=True)
class Applied:
    """What happened to one child; ``obj`` is its state afterwards (``None`` if absent)."""

    kind: Kind
    name: str
    action: Action
    obj: dict[str, Any] | None
    patch: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    before: Mapping[str, Any] | None = None


class ChildConflict(Exception):
    """A child's name is taken by an object this Microservice does not control."""


#: Attempts at one child when the server answers 409: each re-reads it and plans again.
CONFLICT_ATTEMPTS = 3


async def apply_child(
    client: KubeClient,
    kind: Kind,
    *,
    owner: Owner,
    name: str,
    desired: Mapping[str, Any] | None,
    observed: Mapping[str, Any] | None,
) -> Applied:
    """Create, patch, delete or leave alone one child so that it matches ``desired``.

    A 409 (the name was taken since our view, or the object changed under a write) means
    the view was stale: read the child again and plan again from what is really there.
    """
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return await _apply_once(
                client, kind, owner=owner, name=name, desired=desired, observed=observed
            )
        except ApiError as exc:
            if exc.status != 409 or attempt == CONFLICT_ATTEMPTS:
                raise
            observed = await client.get(kind, namespace=owner.namespace, name=name)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def _apply_once(
    client: KubeClient,
    kind: Kind,
    *,
    owner: Owner,
    name: str,
    desired: Mapping[str, Any] | None,
    observed: Mapping[str, Any] | None,
) -> Applied:
    if observed is not None and not is_owned_by(dict(observed), owner):
        raise ChildConflict(
            f"{kind.kind} {owner.namespace}/{name} exists and is not controlled by this "
            "Microservice; rename or delete it"
        )
    if desired is None:
        if observed is None:
            return Applied(kind, name, Action.UNCHANGED, None)
        await client.delete(kind, namespace=owner.namespace, name=name)
        return Applied(kind, name, Action.DELETED, None, before=observed)
    if observed is None:
        created = await client.create(kind, desired)
        return Applied(kind, name, Action.CREATED, created)
    patch = spec_patch(desired, observed)
    if not patch:
        return Applied(kind, name, Action.UNCHANGED, dict(observed))
    patched = await client.patch(kind, namespace=owner.namespace, name=name, patch=patch)
    return Applied(kind, name, Action.PATCHED, patched, patch=patch, before=observed)
