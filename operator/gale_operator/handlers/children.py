"""Watching the children: an in-memory index of them, and waking their parent on change.

The index lets a reconcile pass see every child without a single API read; the wake-up
makes a deleted or hand-edited child come back within moments, not at the next tick.
ServiceMonitors are read on demand instead: their CRD may not exist in the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from gale_operator.core import kinds
from gale_operator.core.naming import INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from gale_operator.handlers.runtime import runtime_of

CHILD_LABELS: dict[str, Any] = {MANAGED_BY_LABEL: MANAGED_BY, INSTANCE_LABEL: kopf.PRESENT}
INDEXED_KINDS: tuple[kinds.Kind, ...] = tuple(
    kind for kind in kinds.CHILD_KINDS if kind != kinds.SERVICE_MONITOR
)


_KINDS = {(kind.group, kind.plural): kind for kind in INDEXED_KINDS}


def index_id(kind: kinds.Kind) -> str:
    """The kwarg name under which kopf hands the index of ``kind`` to every handler."""
    return f"gale_{kind.plural}"


def indexed_children(
    indexes: Mapping[str, Any], kind: kinds.Kind, key: tuple[str, str]
) -> list[dict[str, Any]]:
    """Every entry kopf's index holds for the Microservice's child of ``kind``: usually one,
    but an entry whose object was deleted in a watch gap stays next to its successor's."""
    index = indexes.get(index_id(kind))
    store = index.get(key) if index is not None else None
    return list(store) if store is not None else []


def _selector(kind: kinds.Kind) -> tuple[str, ...]:
    return (kind.group, kind.version, kind.plural) if kind.group else (kind.version, kind.plural)


async def index_child(
    namespace: str | None, labels: Mapping[str, str], body: kopf.Body, **_: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    """Async, so kopf calls it in the loop, not in a worker thread per event; no deep copy:
    every watch event brings a freshly decoded body, and nothing here mutates it."""
    return {(namespace or "", labels[INSTANCE_LABEL]): dict(body)}


async def wake_parent(
    type: str | None,
    resource: kopf.Resource,
    namespace: str | None,
    labels: Mapping[str, str],
    body: kopf.Body,
    memo: Any,
    **_: Any,
) -> None:
    """Wake the Microservice; the loop skips the pass if the change was only its own write
    echoing back through the watch (that would cost a pass and change nothing)."""
    runtime = runtime_of(memo)
    kind = _KINDS[(resource.group, resource.plural)]
    if type is None:  # a listing: after a 410 Gone, deletions in the gap went unseen
        runtime.relisting(INDEXED_KINDS)
    key = (namespace or "", labels[INSTANCE_LABEL])
    runtime.wake(key, echo=(kind, dict(body)) if type in {"ADDED", "MODIFIED"} else None)


for _kind in INDEXED_KINDS:
    kopf.index(*_selector(_kind), id=index_id(_kind), labels=CHILD_LABELS)(index_child)
    kopf.on.event(*_selector(_kind), id=f"wake_on_{_kind.plural}", labels=CHILD_LABELS)(wake_parent)
