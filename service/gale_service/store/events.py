"""The transactional outbox: every write appends its event in the same transaction.

Positions are allocated *outside* the transaction, by an atomic ``$inc`` on a counter
document that no transaction ever touches, so concurrent writers never conflict on it (a
single-document update outside a transaction waits its turn; it is not aborted). The
writer allocates only after its document write, and the event insert in its transaction carries
that position as ``_id``. Three consequences, each handled:

- Per-document order: a write to a document can only succeed once the previous write to it
  has committed (otherwise it write-conflicts and retries), and it allocates after that, so
  positions of one document's events follow their commit order.
- Gaps: a position can be allocated and not (yet) committed, so the log may hold N+1 before
  N. Readers never publish past a gap: they wait, up to :attr:`EventLog.gap_timeout`, for
  N to commit, and then *abandon* it by inserting a tombstone with ``_id`` N outside any
  transaction. The unique ``_id`` makes that a fence: the tombstone and the event cannot both
  exist. If the writer's transaction already inserted N, the tombstone insert waits for it
  and fails with a duplicate key (the event committed) or succeeds (it aborted); if not yet,
  the writer's insert fails later and its write is refused (503), never half-done. A writer
  whose attempt fails tombstones its own positions at once, so readers rarely wait.
- The resolved frontier: every position up to it is an event or a tombstone, for good. Only
  the frontier is ever shown to clients, so "everything after the position I resumed from"
  stays a complete, duplicate-free read.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument, WriteConcern
from pymongo.errors import BulkWriteError, DuplicateKeyError

from gale_service.db import DatabaseUnavailable, MongoGateway
from gale_service.db.driver import Document, Session

EVENTS = "events"
COUNTERS = "counters"
FRONTIER = "events.frontier"
#: The ``type`` of a tombstone: a position whose write never committed.
ABANDONED = "position.abandoned"
DUPLICATE_KEY = 11000


class PositionAbandoned(DatabaseUnavailable):
    """A reader gave this write's position up before the write could commit: nothing was
    written, and the client may retry (503)."""


def is_event(entry: Document) -> bool:
    """A change event, as opposed to a tombstone."""
    return bool(entry.get("type", ABANDONED) != ABANDONED)


def event_kind(entry: Document) -> str:
    """The resource kind an event is about: ``item`` for ``item.created``."""
    return str(entry["type"]).partition(".")[0]


def _event(
    seq: int, *, kind: str, change: str, document: Document, tags: str | None, at: datetime
) -> Document:
    """``{"type": "<kind>.<change>", "<kind>_id": ..., "<kind>": {...}}``: the document under
    its own kind's name, so each resource's events read naturally (and items' stay as they
    were stored before resources were generalised). ``owner`` and ``tags`` (the values of
    the resource's ``tags`` field, if it has one) are what the live feed filters on, for
    every kind."""
    return {
        "_id": seq,
        "type": f"{kind}.{change}",
        f"{kind}_id": document["_id"],
        "owner": document.get("owner"),
        "tags": document.get(tags, []) if tags is not None else [],
        kind: document,
        "at": at,
    }


class EventLog:
    """Append and read change events (``<kind>.created|updated|deleted``) by position."""

    def __init__(self, gateway: MongoGateway, *, gap_timeout: float | None = None) -> None:
        self._gateway = gateway
        self._events = gateway.collection(EVENTS)
        self._counters = gateway.collection(COUNTERS)
        # Allocation need not wait for its own journal flush: a position only matters once
        # an event commits with it, and that later journaled (majority) commit makes every
        # earlier write durable (and replicated) too. A lost allocation is a reused position
        # no event ever held.
        self._allocator = self._counters.with_options(write_concern=WriteConcern(w=1, j=False))
        #: How long a reader waits for an allocated position before abandoning it: well past
        #: the time a healthy writer needs between allocating and inserting.
        self.gap_timeout = (
            2 * gateway.transaction_budget + 1 if gap_timeout is None else gap_timeout
        )

    async def append(
        self,
        session: Session,
        *,
        kind: str,
        change: str,
        documents: Sequence[Document],
        at: datetime,
        tags: str | None,
    ) -> int:
        """One event per document at consecutive positions (one allocation), inside the
        caller's transaction; the last position.

        Call it after the transaction's document writes, so per-document order holds (see
        above).
        """
        last = await self._allocate(len(documents))
        first = last - len(documents) + 1
        self._gateway.after_abort(session, lambda: self.abandon(first, last))
        events = [
            _event(seq, kind=kind, change=change, document=document, tags=tags, at=at)
            for seq, document in zip(range(first, last + 1), documents, strict=True)
        ]
        try:
            if len(events) == 1:
                await self._events.insert_one(events[0], session=session)
            else:
                await self._events.insert_many(events, session=session)
        except DuplicateKeyError as error:
            raise PositionAbandoned(f"event position {first} was abandoned") from error
        except BulkWriteError as error:
            codes = {e.get("code") for e in error.details.get("writeErrors", [])}
            if codes == {DUPLICATE_KEY}:
                raise PositionAbandoned(f"event positions {first}-{last} abandoned") from error
            raise
        return last

    async def _allocate(self, count: int) -> int:
        """Reserve ``count`` positions outside any transaction; the last of them.

        The counter is created once, apart, rather than upserted on every call: concurrent
        upserting findAndModify calls on SecantusDB 0.7.0b3 sometimes apply the ``$inc`` yet
        return no document (about 1 in 500 at 64 writers), which would lose the position.
        """
        async with self._gateway.operation():
            for _ in range(2):
                counter = await self._allocator.find_one_and_update(
                    {"_id": EVENTS},
                    {"$inc": {"seq": count}},
                    return_document=ReturnDocument.AFTER,
                )
                if counter is not None:
                    return int(counter["seq"])
                with contextlib.suppress(DuplicateKeyError):
                    await self._counters.insert_one({"_id": EVENTS, "seq": 0})
        raise DatabaseUnavailable("the event position counter cannot be created")

    async def abandon(self, first: int, last: int | None = None) -> None:
        """Fence positions ``first..last`` that may never commit: a tombstone takes each one
        that is not an event yet (and waits for a transaction that holds it to finish)."""
        tombstones = [
            {"_id": seq, "type": ABANDONED}
            for seq in range(first, (first if last is None else last) + 1)
        ]
        try:
            async with self._gateway.operation():
                await self._events.insert_many(tombstones, ordered=False)
        except BulkWriteError as error:
            codes = {e.get("code") for e in error.details.get("writeErrors", [])}
            if codes != {DUPLICATE_KEY}:
                raise
            # The others committed as events (or another reader fenced them first).

    async def since(
        self, seq: int, *, limit: int = 500, up_to: int | None = None
    ) -> AsyncIterator[Document]:
        """Log entries (events and tombstones) after ``seq`` (up to ``up_to``), in order."""
        bounds: dict[str, int] = {"$gt": seq}
        if up_to is not None:
            bounds["$lte"] = up_to
        async with self._gateway.operation():
            cursor = self._events.find({"_id": bounds}).sort("_id", 1).limit(limit)
            async for event in cursor:
                yield event

    async def last_sequence(self) -> int:
        """The resolved frontier now: the last position before the first unresolved one.

        It starts from the frontier a follower recorded and walks the contiguous entries
        after it, so it never passes a position that may still commit.
        """
        async with self._gateway.operation():
            recorded: dict[str, Any] | None = await self._counters.find_one({"_id": FRONTIER})
        position = int(recorded["seq"]) if recorded else 0
        while True:
            advanced = position
            # Read the batch whole: leaving an async generator early defers its cleanup.
            for entry in [entry async for entry in self.since(position)]:
                if int(entry["_id"]) != advanced + 1:
                    break
                advanced += 1
            if advanced == position:
                return position
            position = advanced

    async def record_frontier(self, position: int) -> None:
        """Remember a resolved frontier so a restarted follower need not walk the log."""
        async with self._gateway.operation():
            await self._counters.update_one(
                {"_id": FRONTIER}, {"$max": {"seq": position}}, upsert=True
            )
