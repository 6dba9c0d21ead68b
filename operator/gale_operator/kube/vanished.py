"""Children that the watch-fed indexes still show but the API server no longer has.

kopf's indexes add and update entries from the watch streams, but when a stream resumes
with ``410 Gone`` and relists, an object deleted during the gap gets no DELETED event and
its entry stays: a reconcile trusting it would never recreate the child. So entries are
checked against a list (label-selected, one per namespace and kind, shared by all
Microservices there): on the periodic pass, and after kopf was seen relisting a kind. An
entry is dropped only when a list *started after the entry was first seen* lacks it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gale_operator.core.kinds import Kind
from gale_operator.core.naming import INSTANCE_LABEL

Key = tuple[str, str]
Lister = Callable[[Kind, str], Awaitable[list[dict[str, Any]]]]
#: None events closer together than this are one relist.
RELIST_BURST_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class _Listing:
    started: float
    instances: frozenset[str]


@dataclasses.dataclass
class VanishedChildren:
    lister: Lister
    #: How old a list may be for a periodic check.
    max_age: float
    _seen: dict[tuple[Key, Kind], tuple[str, float]] = dataclasses.field(default_factory=dict)
    _listings: dict[tuple[str, Kind], _Listing] = dataclasses.field(default_factory=dict)
    _relisted: dict[Kind, float] = dataclasses.field(default_factory=dict)
    _last_listing_event: dict[Kind, float] = dataclasses.field(default_factory=dict)

    def relisting(self, kind: Kind) -> None:
        """kopf delivered a listing event (type ``None``): a relist may have skipped deletions."""
        now = time.monotonic()
        if now - self._last_listing_event.get(kind, float("-inf")) > RELIST_BURST_SECONDS:
            self._relisted[kind] = now
        self._last_listing_event[kind] = now

    async def verify(
        self, key: Key, observed: Mapping[Kind, Mapping[str, Any] | None], *, periodic: bool
    ) -> dict[Kind, Mapping[str, Any] | None]:
        """``observed`` without the entries a fresh enough list shows to be gone."""
        now = time.monotonic()
        result = dict(observed)
        namespace, name = key
        for kind, obj in observed.items():
            if obj is None:
                self._seen.pop((key, kind), None)
                continue
            version = str((obj.get("metadata") or {}).get("resourceVersion"))
            seen = self._seen.get((key, kind))
            if seen is None or seen[0] != version:
                seen = self._seen[(key, kind)] = (version, now)
            listing = self._listings.get((namespace, kind))
            started = listing.started if listing is not None else float("-inf")
            stale = (periodic and now - started > self.max_age) or (
                self._relisted.get(kind, float("-inf")) > started
            )
            if stale:
                listing = await self._list(kind, namespace)
            if listing is not None and listing.started > seen[1] and name not in listing.instances:
                result[kind] = None
        return result

    async def _list(self, kind: Kind, namespace: str) -> _Listing:
        started = time.monotonic()
        items = await self.lister(kind, namespace)
        instances = frozenset(
            ((item.get("metadata") or {}).get("labels") or {}).get(INSTANCE_LABEL, "")
            for item in items
        )
        listing = self._listings[(namespace, kind)] = _Listing(started, instances)
        return listing

    def forget(self, key: Key) -> None:
        for entry in [entry for entry in self._seen if entry[0] == key]:
            del self._seen[entry]
