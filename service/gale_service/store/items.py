"""Items in MongoDB, with optimistic concurrency and the outbox event in one transaction.

Listing is keyset-paginated on ``_id`` (an ObjectId, increasing with insertion): an item that
existed when paging started is returned exactly once however the collection changes meanwhile,
which offset pagination cannot promise.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from gale_service.db import MongoGateway
from gale_service.db.driver import Document, Session
from gale_service.store.errors import ItemNotFound, ItemsExist, PreconditionFailed
from gale_service.store.events import EventLog

ITEMS = "items"


def _now() -> datetime:
    """The current time at BSON's millisecond precision, so responses match what's stored."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class InvalidCursor(ValueError):
    """A listing cursor that this service did not issue, or issued for another query."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Document]
    next_cursor: str | None


def _object_id(item_id: str) -> ObjectId:
    try:
        return ObjectId(item_id)
    except (InvalidId, TypeError):
        raise ItemNotFound(item_id) from None


def encode_cursor(*, after: str, tag: str | None) -> str:
    raw = json.dumps({"a": after, "t": tag}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, tag: str | None) -> ObjectId:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = ObjectId(data["a"])
    except (ValueError, KeyError, TypeError, InvalidId, binascii.Error):
        raise InvalidCursor("cursor is not one this service issued") from None
    if data.get("t") != tag:
        raise InvalidCursor("cursor was issued for a different tag filter")
    return after


def _scoped(query: dict[str, Any], owner: str | None) -> dict[str, Any]:
    """``query`` limited to ``owner``'s items; ``None`` means every owner (an admin)."""
    return query if owner is None else {**query, "owner": owner}


def to_public(document: Mapping[str, Any]) -> Document:
    """The stored document as the API shows it (``_id`` becomes ``id``)."""
    public = {key: value for key, value in document.items() if key != "_id"}
    public["id"] = str(document["_id"])
    return public


class ItemStore:
    """CRUD for items; every write also appends its event, atomically."""

    def __init__(self, gateway: MongoGateway) -> None:
        self._gateway = gateway
        self._items = gateway.collection(ITEMS)
        self.events = EventLog(gateway)

    async def create(self, fields: Mapping[str, Any], *, owner: str) -> Document:
        now = _now()
        document: Document = {
            "_id": ObjectId(),
            **fields,
            "owner": owner,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }

        async def write(session: Session) -> None:
            await self._items.insert_one(document, session=session)
            await self.events.append(session, type="item.created", item=document, at=now)

        async with self._gateway.operation():
            await self._gateway.in_transaction(write)
        return to_public(document)

    async def create_many(self, many: Sequence[Mapping[str, Any]], *, owner: str) -> list[Document]:
        """Several items and their events in one transaction: all are stored, or none."""
        now = _now()
        documents: list[Document] = [
            {
                "_id": ObjectId(),
                **fields,
                "owner": owner,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for fields in many
        ]

        async def write(session: Session) -> None:
            await self._items.insert_many(documents, session=session)
            await self.events.append_many(session, type="item.created", items=documents, at=now)

        async with self._gateway.operation():
            await self._gateway.in_transaction(write)
        return [to_public(document) for document in documents]

    async def get(self, item_id: str, *, owner: str | None = None) -> Document:
        """``owner`` scopes the lookup: another owner's item is :class:`ItemNotFound`."""
        oid = _object_id(item_id)
        async with self._gateway.operation():
            document = await self._items.find_one(_scoped({"_id": oid}, owner))
        if document is None:
            raise ItemNotFound(item_id)
        return to_public(document)

    async def list(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        tag: str | None = None,
        owner: str | None = None,
    ) -> Page:
        query: dict[str, Any] = _scoped({}, owner)
        if tag is not None:
            query["tags"] = tag
        if cursor is not None:
            query["_id"] = {"$gt": decode_cursor(cursor, tag=tag)}
        async with self._gateway.operation():
            found = self._items.find(query).sort("_id", 1).limit(limit + 1)
            documents = [document async for document in found]
        has_more = len(documents) > limit
        documents = documents[:limit]
        next_cursor = encode_cursor(after=str(documents[-1]["_id"]), tag=tag) if has_more else None
        return Page(items=[to_public(d) for d in documents], next_cursor=next_cursor)

    async def replace(
        self,
        item_id: str,
        fields: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        owner: str | None = None,
    ) -> Document:
        """Overwrite the writable fields; ``expected_version`` makes it conditional (If-Match)."""

        async def update(query: Document, now: datetime, session: Session) -> Document | None:
            updated: Document | None = await self._items.find_one_and_update(
                query,
                {"$set": {**fields, "updated_at": now}, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            return updated

        updated = await self._write_one(
            item_id,
            update,
            event="item.updated",
            expected_version=expected_version,
            owner=owner,
        )
        return to_public(updated)

    async def delete(
        self, item_id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> None:
        async def remove(query: Document, now: datetime, session: Session) -> Document | None:
            deleted: Document | None = await self._items.find_one_and_delete(query, session=session)
            return deleted

        await self._write_one(
            item_id,
            remove,
            event="item.deleted",
            expected_version=expected_version,
            owner=owner,
        )

    async def _write_one(
        self,
        item_id: str,
        write: Callable[[Document, datetime, Session], Awaitable[Document | None]],
        *,
        event: str,
        expected_version: int | None,
        owner: str | None,
    ) -> Document:
        """Change one item and append its event in one transaction; the written document.

        ``write(query, now, session)`` gets the conditional query (id, owner scope, expected
        version) and returns the document it changed, or ``None`` when the query matched
        nothing: then nothing is written, and the error says whether the item is missing or
        at another version.
        """
        oid = _object_id(item_id)
        now = _now()
        query: Document = _scoped({"_id": oid}, owner)
        if expected_version is not None:
            query["version"] = expected_version

        async def transaction(session: Session) -> Document | None:
            document = await write(query, now, session)
            if document is not None:
                await self.events.append(session, type=event, item=document, at=now)
            return document

        async with self._gateway.operation():
            document = await self._gateway.in_transaction(transaction)
        if document is None:
            raise await self._why_unchanged(oid, item_id, owner=owner)
        return document

    async def export(
        self, *, batch_size: int = 500, owner: str | None = None
    ) -> AsyncIterator[Document]:
        """Every item (of ``owner``, if given) in ``_id`` order, streamed in batches."""
        async with self._gateway.operation(streaming=True):
            cursor = self._items.find(_scoped({}, owner)).sort("_id", 1).batch_size(batch_size)
            async for document in cursor:
                yield to_public(document)

    async def _why_unchanged(
        self, oid: ObjectId, item_id: str, *, owner: str | None = None
    ) -> Exception:
        async with self._gateway.operation():
            current = await self._items.find_one(_scoped({"_id": oid}, owner), {"version": 1})
        if current is None:
            return ItemNotFound(item_id)
        return PreconditionFailed(current_version=int(current["version"]))

    async def restore_many(
        self, many: Sequence[Mapping[str, Any]], *, owner: str, skip_existing: bool = False
    ) -> tuple[Sequence[Document], Sequence[str]]:
        """Items as an export wrote them, ids, owners, timestamps and versions kept, with
        their ``item.created`` events, in one transaction: ``(stored, skipped ids)``.

        What an item leaves out is filled in as :meth:`create_many` would (a new id, now,
        version 1, ``owner``). An id already stored raises :class:`ItemsExist` naming every
        such id, and nothing is written, unless ``skip_existing``: then those lines are left
        out and returned as skipped.
        """
        now = _now()
        documents: list[Document] = []
        kept = {"id", "owner", "created_at", "updated_at", "version"}
        for fields in many:
            created = fields.get("created_at", now)
            # The same field order as create_many's, so a restored export reads back identical.
            documents.append(
                {
                    "_id": ObjectId(fields["id"]) if "id" in fields else ObjectId(),
                    **{key: value for key, value in fields.items() if key not in kept},
                    "owner": fields.get("owner", owner),
                    "created_at": created,
                    "updated_at": fields.get("updated_at", created),
                    "version": fields.get("version", 1),
                }
            )

        async def write(session: Session) -> tuple[list[Document], list[str]]:
            ids = [document["_id"] for document in documents]
            found = self._items.find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
            existing = {document["_id"] async for document in found}
            if existing and not skip_existing:
                raise ItemsExist([str(oid) for oid in ids if oid in existing])
            fresh = [document for document in documents if document["_id"] not in existing]
            if fresh:
                await self._items.insert_many(fresh, session=session)
                await self.events.append_many(session, type="item.created", items=fresh, at=now)
            return fresh, [str(oid) for oid in ids if oid in existing]

        try:
            async with self._gateway.operation():
                stored, skipped = await self._gateway.in_transaction(write)
        except DuplicateKeyError:
            # Stored by a concurrent writer after the check: name them as the check would.
            ids = [document["_id"] for document in documents]
            async with self._gateway.operation():
                found = self._items.find({"_id": {"$in": ids}}, {"_id": 1})
                existing = {document["_id"] async for document in found}
            raise ItemsExist([str(oid) for oid in ids if oid in existing]) from None
        return [to_public(document) for document in stored], skipped
