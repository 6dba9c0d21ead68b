"""The transactional outbox: every write appends an event in the same transaction.

Sequence numbers come from one counter document bumped inside the transaction, so two
concurrent writers conflict on it and one of them retries: the sequence is gap-free in commit
order, and a reader that remembers the last sequence it saw can resume exactly there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from gale_service.db import MongoGateway
from gale_service.db.driver import Document, Session, translate_errors

EVENTS = "events"
COUNTERS = "counters"
EVENT_TYPES = ("item.created", "item.updated", "item.deleted")


def _event(seq: int, *, type: str, item: Document, at: datetime) -> Document:
    return {
        "_id": seq,
        "type": type,
        "item_id": item["_id"],
        "owner": item.get("owner"),
        "tags": item.get("tags", []),
        "item": item,
        "at": at,
    }


class EventLog:
    """Append and read ``item.*`` events by sequence number."""

    def __init__(self, gateway: MongoGateway) -> None:
        self._gateway = gateway
        self._events = gateway.collection(EVENTS)
        self._counters = gateway.collection(COUNTERS)

    async def append(
        self,
        session: Session,
        *,
        type: str,
        item: Document,
        at: datetime,
    ) -> int:
        """Append one event inside the caller's transaction and return its sequence."""
        counter = await self._counters.find_one_and_update(
            {"_id": EVENTS},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        seq = int(counter["seq"])
        await self._events.insert_one(_event(seq, type=type, item=item, at=at), session=session)
        return seq

    async def append_many(
        self, session: Session, *, type: str, items: Sequence[Document], at: datetime
    ) -> int:
        """One event per item, consecutive sequences from a single counter bump; the last."""
        counter = await self._counters.find_one_and_update(
            {"_id": EVENTS},
            {"$inc": {"seq": len(items)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        last = int(counter["seq"])
        first = last - len(items) + 1
        await self._events.insert_many(
            [
                _event(seq, type=type, item=item, at=at)
                for seq, item in zip(range(first, last + 1), items, strict=True)
            ],
            session=session,
        )
        return last

    async def since(self, seq: int, *, limit: int = 500) -> AsyncIterator[Document]:
        """Events with a sequence greater than ``seq``, oldest first."""
        async with translate_errors():
            cursor = self._events.find({"_id": {"$gt": seq}}).sort("_id", 1).limit(limit)
            async for event in cursor:
                yield event

    async def last_sequence(self) -> int:
        async with translate_errors():
            counter: dict[str, Any] | None = await self._counters.find_one({"_id": EVENTS})
        return int(counter["seq"]) if counter else 0
