"""Versioned documents of one resource in MongoDB: optimistic concurrency (a ``version``
every write bumps, which the API shows as the ETag), keyset paging, export and restore, and
the outbox event of every write in the same transaction.

Nothing here knows a resource's fields: a document is whatever its validated write model
produced, plus ``owner``, ``created_at``, ``updated_at`` and ``version``. Listing is
keyset-paginated on ``_id`` (an ObjectId, increasing with insertion): a document that existed
when paging started is returned exactly once however the collection changes meanwhile, which
offset pagination cannot promise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from gale_service.db import MongoGateway
from gale_service.db.driver import Document, Session
from gale_service.store.cursors import decode_cursor, encode_cursor
from gale_service.store.errors import DocumentNotFound, DocumentsExist, PreconditionFailed
from gale_service.store.events import EventLog

#: Fields the store owns: a client writes none of them (an import may restore them).
MANAGED = ("owner", "created_at", "updated_at", "version")


def _now() -> datetime:
    """The current time at BSON's millisecond precision, so responses match what's stored."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class Page:
    documents: list[Document]
    next_cursor: str | None


def _object_id(document_id: str) -> ObjectId:
    try:
        return ObjectId(document_id)
    except (InvalidId, TypeError):
        raise DocumentNotFound(document_id) from None


def _scoped(query: dict[str, Any], owner: str | None) -> dict[str, Any]:
    """``query`` limited to ``owner``'s documents; ``None`` means every owner (an admin)."""
    return query if owner is None else {**query, "owner": owner}


def to_public(document: Mapping[str, Any]) -> Document:
    """The stored document as the API shows it (``_id`` becomes ``id``)."""
    public = {key: value for key, value in document.items() if key != "_id"}
    public["id"] = str(document["_id"])
    return public


def _new(fields: Mapping[str, Any], *, owner: str, now: datetime) -> Document:
    return {
        "_id": ObjectId(),
        **fields,
        "owner": owner,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


class VersionedStore:
    """CRUD for one resource's collection; every write also appends its event, atomically.

    ``kind`` names the events (``item.created``); ``tags`` is the field listing may filter on
    (``None``: the resource has none).
    """

    def __init__(
        self,
        gateway: MongoGateway,
        events: EventLog,
        *,
        collection: str,
        kind: str,
        tags: str | None,
    ) -> None:
        self._gateway = gateway
        self._collection = gateway.collection(collection)
        self.kind = kind
        self.tags = tags
        self.events = events

    async def ensure_indexes(self) -> None:
        """The listing indexes (idempotent, so every start may ask): per owner, per tag."""
        async with self._gateway.operation():
            await self._collection.create_index(
                [("owner", ASCENDING), ("_id", ASCENDING)], name="owner_id"
            )
            if self.tags is not None:
                await self._collection.create_index(
                    [(self.tags, ASCENDING), ("_id", ASCENDING)], name=f"{self.tags}_id"
                )

    async def create(self, fields: Mapping[str, Any], *, owner: str) -> Document:
        (created,) = await self.create_many([fields], owner=owner)
        return created

    async def create_many(self, many: Sequence[Mapping[str, Any]], *, owner: str) -> list[Document]:
        """Several documents and their events in one transaction: all are stored, or none."""
        now = _now()
        documents = [_new(fields, owner=owner, now=now) for fields in many]

        async def write(session: Session) -> None:
            if len(documents) == 1:
                await self._collection.insert_one(documents[0], session=session)
            else:
                await self._collection.insert_many(documents, session=session)
            await self.events.append(
                session,
                kind=self.kind,
                tags=self.tags,
                change="created",
                documents=documents,
                at=now,
            )

        async with self._gateway.operation():
            await self._gateway.in_transaction(write)
        return [to_public(document) for document in documents]

    async def get(self, document_id: str, *, owner: str | None = None) -> Document:
        """``owner`` scopes the lookup: another owner's document is :class:`DocumentNotFound`."""
        oid = _object_id(document_id)
        async with self._gateway.operation():
            document = await self._collection.find_one(_scoped({"_id": oid}, owner))
        if document is None:
            raise DocumentNotFound(document_id)
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
        if tag is not None and self.tags is not None:
            query[self.tags] = tag
        if cursor is not None:
            query["_id"] = {"$gt": decode_cursor(cursor, tag=tag)}
        async with self._gateway.operation():
            found = self._collection.find(query).sort("_id", 1).limit(limit + 1)
            documents = [document async for document in found]
        has_more = len(documents) > limit
        documents = documents[:limit]
        next_cursor = encode_cursor(after=str(documents[-1]["_id"]), tag=tag) if has_more else None
        return Page(documents=[to_public(d) for d in documents], next_cursor=next_cursor)

    async def replace(
        self,
        document_id: str,
        fields: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        owner: str | None = None,
    ) -> Document:
        """Overwrite the writable fields; ``expected_version`` makes it conditional (If-Match)."""

        async def update(query: Document, now: datetime, session: Session) -> Document | None:
            updated: Document | None = await self._collection.find_one_and_update(
                query,
                {"$set": {**fields, "updated_at": now}, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            return updated

        updated = await self._write_one(
            document_id, update, change="updated", expected_version=expected_version, owner=owner
        )
        return to_public(updated)

    async def delete(
        self, document_id: str, *, expected_version: int | None = None, owner: str | None = None
    ) -> None:
        async def remove(query: Document, now: datetime, session: Session) -> Document | None:
            deleted: Document | None = await self._collection.find_one_and_delete(
                query, session=session
            )
            return deleted

        await self._write_one(
            document_id, remove, change="deleted", expected_version=expected_version, owner=owner
        )

    async def _write_one(
        self,
        document_id: str,
        write: Callable[[Document, datetime, Session], Awaitable[Document | None]],
        *,
        change: str,
        expected_version: int | None,
        owner: str | None,
    ) -> Document:
        """Change one document and append its event in one transaction; the written document.

        ``write(query, now, session)`` gets the conditional query (id, owner scope, expected
        version) and returns the document it changed, or ``None`` when the query matched
        nothing: then nothing is written, and the error says whether the document is missing
        or at another version.
        """
        oid = _object_id(document_id)
        now = _now()
        query: Document = _scoped({"_id": oid}, owner)
        if expected_version is not None:
            query["version"] = expected_version

        async def transaction(session: Session) -> Document | None:
            document = await write(query, now, session)
            if document is not None:
                await self.events.append(
                    session,
                    kind=self.kind,
                    tags=self.tags,
                    change=change,
                    documents=[document],
                    at=now,
                )
            return document

        async with self._gateway.operation():
            document = await self._gateway.in_transaction(transaction)
        if document is None:
            raise await self._why_unchanged(oid, document_id, owner=owner)
        return document

    async def _why_unchanged(
        self, oid: ObjectId, document_id: str, *, owner: str | None = None
    ) -> Exception:
        async with self._gateway.operation():
            current = await self._collection.find_one(_scoped({"_id": oid}, owner), {"version": 1})
        if current is None:
            return DocumentNotFound(document_id)
        return PreconditionFailed(current_version=int(current["version"]))

    async def export(
        self, *, batch_size: int = 500, owner: str | None = None
    ) -> AsyncIterator[Document]:
        """Every document (of ``owner``, if given) in ``_id`` order, streamed in batches."""
        async with self._gateway.operation(streaming=True):
            cursor = self._collection.find(_scoped({}, owner)).sort("_id", 1).batch_size(batch_size)
            async for document in cursor:
                yield to_public(document)

    async def restore_many(
        self, many: Sequence[Mapping[str, Any]], *, owner: str, skip_existing: bool = False
    ) -> tuple[Sequence[Document], Sequence[str]]:
        """Documents as an export wrote them, ids, owners, timestamps and versions kept, with
        their ``created`` events, in one transaction: ``(stored, skipped ids)``.

        What a document leaves out is filled in as :meth:`create_many` would (a new id, now,
        version 1, ``owner``). An id already stored raises :class:`DocumentsExist` naming every
        such id, and nothing is written, unless ``skip_existing``: then those are left out and
        returned as skipped.
        """
        now = _now()
        documents: list[Document] = []
        kept = {"id", *MANAGED}
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
        ids = [document["_id"] for document in documents]

        async def write(session: Session) -> tuple[list[Document], list[str]]:
            found = self._collection.find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
            existing = {document["_id"] async for document in found}
            if existing and not skip_existing:
                raise DocumentsExist([str(oid) for oid in ids if oid in existing])
            fresh = [document for document in documents if document["_id"] not in existing]
            if fresh:
                await self._collection.insert_many(fresh, session=session)
                await self.events.append(
                    session,
                    kind=self.kind,
                    tags=self.tags,
                    change="created",
                    documents=fresh,
                    at=now,
                )
            return fresh, [str(oid) for oid in ids if oid in existing]

        try:
            async with self._gateway.operation():
                stored, skipped = await self._gateway.in_transaction(write)
        except DuplicateKeyError:
            # Stored by a concurrent writer after the check: name them as the check would.
            async with self._gateway.operation():
                found = self._collection.find({"_id": {"$in": ids}}, {"_id": 1})
                existing = {document["_id"] async for document in found}
            raise DocumentsExist([str(oid) for oid in ids if oid in existing]) from None
        return [to_public(document) for document in stored], skipped
