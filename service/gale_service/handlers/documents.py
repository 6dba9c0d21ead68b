"""Any resource's ``/api/v1/<name>`` and ``/api/v1/<name>/{<singular>_id}``: create, list,
read, replace, merge-patch and delete versioned documents, for the :class:`Resource` the
route names. Nothing here knows a resource's fields: its models validate them."""

from __future__ import annotations

from typing import Any

from gale_service.handlers.base import ApiHandler
from gale_service.handlers.conditional import etag_for, expected_version, not_modified
from gale_service.handlers.merge_patch import merge_patch
from gale_service.problems import Problem
from gale_service.resource import Resource
from gale_service.store import DocumentNotFound, PreconditionFailed, VersionedStore
from gale_service.store.cursors import InvalidCursor

MERGE_PATCH = "application/merge-patch+json"
DEFAULT_LIMIT = 20
#: Reads and re-applies of an unconditional PATCH racing other writers, at most.
PATCH_ATTEMPTS = 10
MAX_LIMIT = 100


class ResourceHandler(ApiHandler):
    """The base of every handler of one resource: its declaration and its store."""

    def initialize(self, resource: Resource) -> None:
        self.resource = resource
        self.store: VersionedStore = self.services.store(resource)

    async def prepare(self) -> None:
        """Documents are private: authenticate before looking at the request at all, so an
        anonymous caller gets 401, never a validation error that hints at the API's rules."""
        await super().prepare()
        self.require_user()

    def not_found(self, document_id: str) -> Problem:
        singular = self.resource.singular
        return Problem(404, f"no {singular} with id {document_id!r}", slug=f"{singular}-not-found")

    def expected_version(self) -> int | None:
        return expected_version(self.request.headers.get("If-Match"))

    def stale(self, error: PreconditionFailed) -> Problem:
        return Problem(
            412,
            f"If-Match does not match the current version ({error.current_version}); "
            f"fetch the {self.resource.singular} again and retry",
            slug="stale-etag",
        )

    def owner(self) -> str:
        """The authenticated caller, who owns what it creates (401 when anonymous)."""
        return self.require_user().username

    def scope(self) -> str | None:
        """Whose documents the caller may touch: its own, or everyone's for an admin.

        Someone else's document answers 404, exactly like a missing one, so ids cannot be
        probed.
        """
        return self.require_user().owner_scope()

    def write_document(self, document: dict[str, Any], *, status: int = 200) -> None:
        self.set_header("ETag", etag_for(document))
        self.write_json(document, status=status)


class CollectionHandler(ResourceHandler):
    async def post(self) -> None:
        fields = self.validated(self.resource.write, self.json_body())
        document = await self.store.create(fields.model_dump(), owner=self.owner())
        self.set_header("Location", self.reverse_url(self.resource.singular, document["id"]))
        self.write_document(document, status=201)

    async def get(self) -> None:
        raw_limit = self.get_query_argument("limit", str(DEFAULT_LIMIT))
        # ASCII and short first: "²".isdigit() is true but int("²") raises, and int()
        # refuses strings of over 4300 digits.
        valid = raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 3
        if not valid or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise Problem(
                400,
                f"limit must be an integer from 1 to {MAX_LIMIT}, got {raw_limit[:40]!r}",
                slug="bad-query",
                errors=[{"field": "limit", "message": f"integer 1 to {MAX_LIMIT}"}],
            )
        tag = None
        if self.resource.tags is not None:
            tag = self.get_query_argument("tag", None) or None
        # strip=False: Tornado turns control characters into spaces and strips them, which
        # would make a cursor of "%1A" read as none instead of one that was never issued.
        cursor = self.get_query_argument("cursor", None, strip=False) or None
        try:
            page = await self.store.list(
                limit=int(raw_limit), cursor=cursor, tag=tag, owner=self.scope()
            )
        except InvalidCursor as error:
            raise Problem(400, str(error), slug="bad-cursor") from None
        self.write_json({self.resource.name: page.documents, "next_cursor": page.next_cursor})


class DocumentHandler(ResourceHandler):
    async def get(self, document_id: str) -> None:
        try:
            document = await self.store.get(document_id, owner=self.scope())
        except DocumentNotFound:
            raise self.not_found(document_id) from None
        etag = etag_for(document)
        if not_modified(self.request.headers.get("If-None-Match"), etag):
            self.set_header("ETag", etag)
            self.set_status(304)
            self.finish()
            return
        self.write_document(document)

    async def put(self, document_id: str) -> None:
        fields = self.validated(self.resource.write, self.json_body())
        try:
            document = await self.store.replace(
                document_id,
                fields.model_dump(),
                expected_version=self.expected_version(),
                owner=self.scope(),
            )
        except DocumentNotFound:
            raise self.not_found(document_id) from None
        except PreconditionFailed as error:
            raise self.stale(error) from None
        self.write_document(document)

    async def patch(self, document_id: str) -> None:
        patch = self.json_body(content_types=(MERGE_PATCH,))
        if not isinstance(patch, dict):
            raise Problem(422, "a merge patch must be a JSON object", slug="validation-failed")
        self.validated(self.resource.patch, patch)
        expected = self.expected_version()
        writable = self.resource.write.model_fields
        # Without If-Match the patch applies to whatever version is current: when another
        # write lands between the read and the write, read again rather than answer 412 to a
        # client that asked for no condition.
        for attempt in range(PATCH_ATTEMPTS):
            try:
                current = await self.store.get(document_id, owner=self.scope())
                fields = self.validated(
                    self.resource.write,
                    merge_patch({key: current[key] for key in writable if key in current}, patch),
                )
                document = await self.store.replace(
                    document_id,
                    fields.model_dump(),
                    expected_version=current["version"] if expected is None else expected,
                    owner=self.scope(),
                )
            except DocumentNotFound:
                raise self.not_found(document_id) from None
            except PreconditionFailed as error:
                if expected is None and attempt + 1 < PATCH_ATTEMPTS:
                    continue
                raise self.stale(error) from None
            self.write_document(document)
            return

    async def delete(self, document_id: str) -> None:
        try:
            await self.store.delete(
                document_id, expected_version=self.expected_version(), owner=self.scope()
            )
        except DocumentNotFound:
            raise self.not_found(document_id) from None
        except PreconditionFailed as error:
            raise self.stale(error) from None
        self.set_status(204)
        self.finish()
