"""Read-your-own-writes over the watch-fed view of the children.

A reconcile pass sees the children through kopf's indexes, which the watch streams update a
moment after each write. A pass starting within that moment (woken by the very writes of
the pass before) would see a child as it was before that pass changed it, and decide and
announce the same change again: a second Event, a second rollback decision. The ledger
remembers what each pass wrote and answers with it while the index still shows exactly the
version the write replaced; any other version (ours arrived, or someone changed it since)
ends the overlay, so nobody else's change is ever hidden. Watch lag is milliseconds, so a
record also ends after :data:`TTL_SECONDS`: a change the index skipped over (created and
deleted between two passes) cannot hide behind it for longer.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from typing import Any

from gale_operator.core.kinds import Kind
from gale_operator.kube.apply import Action, Applied

Key = tuple[str, str]
TTL_SECONDS = 5.0


def _version(obj: Mapping[str, Any] | None) -> str | None:
    return None if obj is None else (obj.get("metadata") or {}).get("resourceVersion")


@dataclasses.dataclass(frozen=True)
class _Write:
    replaced: str | None  # the resourceVersion the write replaced; None for a creation
    result: dict[str, Any] | None  # the object the write left; None for a deletion
    at: float


@dataclasses.dataclass
class OwnWrites:
    _writes: dict[tuple[Key, Kind], _Write] = dataclasses.field(default_factory=dict)

    def record(self, key: Key, applied: Iterable[Applied]) -> None:
        for result in applied:
            if result.action is not Action.UNCHANGED:
                write = _Write(_version(result.before), result.obj, time.monotonic())
                self._writes[(key, result.kind)] = write

    def overlay(
        self, key: Key, observed: Mapping[Kind, Mapping[str, Any] | None]
    ) -> dict[Kind, Mapping[str, Any] | None]:
        """``observed`` with each child the index has not yet seen us write replaced."""
        view = dict(observed)
        for kind, seen in observed.items():
            write = self._writes.get((key, kind))
            if write is None:
                continue
            fresh = time.monotonic() - write.at < TTL_SECONDS
            if fresh and _version(seen) == write.replaced:
                view[kind] = write.result
            else:
                del self._writes[(key, kind)]
        return view

    def is_echo(self, key: Key, kind: Kind, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` (from a watch event) is exactly what a pass of ours just wrote:
        waking the loop for it would only re-check its own write."""
        write = self._writes.get((key, kind))
        fresh = write is not None and time.monotonic() - write.at < TTL_SECONDS
        return fresh and write is not None and _version(write.result) == _version(obj)

    def forget(self, key: Key) -> None:
        for entry in [entry for entry in self._writes if entry[0] == key]:
            del self._writes[entry]
