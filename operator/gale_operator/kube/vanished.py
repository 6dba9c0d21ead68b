"""Children that the watch-fed indexes still show but the API server no longer has.

kopf's indexes add and update entries from the watch streams, but when a stream resumes
with ``410 Gone`` and relists, an object deleted during the gap gets no DELETED event and
its entry stays: a reconcile trusting it would never recreate the child. So entries are
checked against a list (label-selected, one per namespace and kind, shared by all
Microservices there): on the periodic pass, and after kopf was seen relisting. An entry is
dropped only when a list *started after the entry was first seen* lacks it.

A relist of any kind (a Microservice's included) counts for every kind: a gap is the
server's or the network's, and a kind whose every object went during the gap relists with
no event at all. Once the relist settles, :meth:`VanishedChildren.sweep` lists each kind
once per namespace and names the Microservices whose child is gone, so they are woken
then, not at their next periodic pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from gale_operator.core.kinds import Kind
from gale_operator.core.naming import INSTANCE_LABEL

Key = tuple[str, str]
Lister = Callable[[Kind, str], Awaitable[list[dict[str, Any]]]]
#: None events closer together than this are one relist.
RELIST_BURST_SECONDS = 1.0


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid"))


@dataclasses.dataclass(frozen=True)
class _Listing:
    started: float
    #: The uids listed, by the Microservice their instance label names.
    uids: Mapping[str, frozenset[str]]


@dataclasses.dataclass
class VanishedChildren:
    lister: Lister
    #: How old a list may be for a periodic check.
    max_age: float
    #: Per Microservice, per (kind, uid) of an entry: its resourceVersion, when first seen.
    _seen: dict[Key, dict[tuple[Kind, str], tuple[str, float]]] = dataclasses.field(
        default_factory=dict
    )
    #: Per Microservice: uids a list showed gone (the index may keep them for good).
    _gone: dict[Key, set[str]] = dataclasses.field(default_factory=dict)
    _listings: dict[tuple[str, Kind], _Listing] = dataclasses.field(default_factory=dict)
    _relisted: float = float("-inf")
    _last_listing_event: float = float("-inf")

    def relisting(self) -> bool:
        """kopf delivered a listing event (type ``None``): a relist may have skipped deletions.

        ``True`` for the first event of a burst (one relist).
        """
        now = time.monotonic()
        first = now - self._last_listing_event > RELIST_BURST_SECONDS
        if first:
            self._relisted = now
        self._last_listing_event = now
        return first

    async def sweep(self, kinds: tuple[Kind, ...]) -> set[Key]:
        """Once the relist has settled: the Microservices whose child a fresh list lacks."""
        await self._settled()
        gone: set[Key] = set()
        for kind in kinds:
            entries = [
                (key, uid, first_seen)
                for key, seen in self._seen.items()
                for (k, uid), (_, first_seen) in seen.items()
                if k == kind and uid not in self._gone.get(key, ())
            ]
            for namespace in sorted({key[0] for key, _, _ in entries}):
                listing = await self._list(kind, namespace)
                gone.update(
                    key
                    for key, uid, first_seen in entries
                    if key[0] == namespace and self._lacks(listing, key, uid, first_seen)
                )
        return gone

    async def verify(
        self,
        key: Key,
        observed: Mapping[Kind, Sequence[Mapping[str, Any]]],
        *,
        periodic: bool,
    ) -> dict[Kind, Mapping[str, Any] | None]:
        """Per kind, the one indexed entry that still exists (``None``: none does).

        The index can hold several entries for one child: a child recreated after a gap sits
        next to the stale entry of the one deleted in it. Several entries always call for a
        fresh list; the uids it lacks are remembered, so the stale one costs one list only.
        """
        now = time.monotonic()
        result: dict[Kind, Mapping[str, Any] | None] = {}
        namespace = key[0]
        mine = self._seen.setdefault(key, {})
        gone = self._gone.setdefault(key, set())
        for kind, entries in observed.items():
            candidates = [obj for obj in entries if _uid(obj) not in gone]
            for obj in candidates:
                version = str((obj.get("metadata") or {}).get("resourceVersion"))
                seen = mine.get((kind, _uid(obj)))
                if seen is None or seen[0] != version:
                    mine[(kind, _uid(obj))] = (version, now)
            listing = self._listings.get((namespace, kind))
            started = listing.started if listing is not None else float("-inf")
            stale = (
                (periodic and now - started > self.max_age)
                or self._relisted > started
                or len(candidates) > 1
            )
            if candidates and stale:
                listing = await self._list(kind, namespace)
            alive = []
            for obj in candidates:
                first_seen = mine[(kind, _uid(obj))][1]
                if listing is not None and self._lacks(listing, key, _uid(obj), first_seen):
                    gone.add(_uid(obj))
                    del mine[(kind, _uid(obj))]
                else:
                    alive.append(obj)
            result[kind] = alive[-1] if alive else None
        return result

    @staticmethod
    def _lacks(listing: _Listing, key: Key, uid: str, first_seen: float) -> bool:
        """Whether a list started after the entry was first seen lacks it."""
        return listing.started > first_seen and uid not in listing.uids.get(key[1], ())

    async def _settled(self) -> None:
        """Return once no listing event has come for :data:`RELIST_BURST_SECONDS`."""
        while True:
            quiet = self._last_listing_event + RELIST_BURST_SECONDS - time.monotonic()
            if quiet <= 0:
                return
            await asyncio.sleep(quiet)

    async def _list(self, kind: Kind, namespace: str) -> _Listing:
        started = time.monotonic()
        items = await self.lister(kind, namespace)
        uids: dict[str, set[str]] = {}
        for item in items:
            instance = ((item.get("metadata") or {}).get("labels") or {}).get(INSTANCE_LABEL, "")
            uids.setdefault(instance, set()).add(_uid(item))
        listing = _Listing(started, {name: frozenset(found) for name, found in uids.items()})
        self._listings[(namespace, kind)] = listing
        return listing

    def forget(self, key: Key) -> None:
        self._seen.pop(key, None)
        self._gone.pop(key, None)
