"""``/api/v1/items``: create, list, read, replace, merge-patch and delete items."""

from __future__ import annotations

import re
from typing import Any

from gale_service.handlers.base import ApiHandler
from gale_service.models import ItemPatch, ItemWrite
from gale_service.problems import Problem
from gale_service.store import ItemNotFound, ItemStore, PreconditionFailed
from gale_service.store.items import InvalidCursor

MERGE_PATCH = "application/merge-patch+json"
#: RFC 9110 ``If-Match``: ``*`` or a list of entity tags (opaque quoted strings, maybe weak).
IF_MATCH = re.compile(r'^(?:\*|(?:W/)?"[^"\s]*"(?:\s*,\s*(?:W/)?"[^"\s]*")*)$')
#: Strong tags only: ``If-Match`` uses strong comparison, so a weak tag never matches. At
#: most 18 ASCII digits: no version is longer, and ``int()`` refuses over 4300 digits.
STRONG_VERSION = re.compile(r'(?<!W/)"([0-9]{1,18})"')
DEFAULT_LIMIT = 20
#: Reads and re-applies of an unconditional PATCH racing other writers, at most.
PATCH_ATTEMPTS = 10
MAX_LIMIT = 100


def etag_for(item: dict[str, Any]) -> str:
    return f'"{item["version"]}"'


def expected_version(header: str | None) -> int | None:
    """The version named by an ``If-Match`` header; ``None`` without one or for ``*`` (any
    existing version). A malformed header is a 400 problem, one naming no strong version of
    this item a 412."""
    if header is None:
        return None
    if not IF_MATCH.match(header.strip()):
        raise Problem(
            400,
            f'If-Match must be * or ETags such as "3", got {header[:100]!r}',
            slug="bad-if-match",
        )
    if header.strip() == "*":
        return None
    versions = STRONG_VERSION.findall(header)
    if not versions:
        raise Problem(
            412,
            f"If-Match {header[:100]!r} matches no version of this item (weak ETags never do)",
            slug="stale-etag",
        )
    return int(versions[0])


def not_modified(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (weak comparison, RFC 9110)."""
    candidates = {tag.strip() for tag in (header or "").split(",")}
    return etag in candidates or f"W/{etag}" in candidates or "*" in candidates


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class ItemsBase(ApiHandler):
    async def prepare(self) -> None:
        """Items are private: authenticate before looking at the request at all, so an
        anonymous caller gets 401, never a validation error that hints at the API's rules."""
        await super().prepare()
        self.require_user()

    @property
    def store(self) -> ItemStore:
        store: ItemStore = self.services["store"]
        return store

    def not_found(self, item_id: str) -> Problem:
        return Problem(404, f"no item with id {item_id!r}", slug="item-not-found")

    def expected_version(self) -> int | None:
        return expected_version(self.request.headers.get("If-Match"))

    def stale(self, error: PreconditionFailed) -> Problem:
        return Problem(
            412,
            f"If-Match does not match the current version ({error.current_version}); "
            "fetch the item again and retry",
            slug="stale-etag",
        )

    def owner(self) -> str:
        """The authenticated caller, who owns what it creates (401 when anonymous)."""
        return self.require_user().username

    def scope(self) -> str | None:
        """Whose items the caller may touch: its own, or everyone's for an admin.

        Someone else's item answers 404, exactly like a missing one, so ids cannot be probed.
        """
        return self.require_user().owner_scope()

    def write_item(self, item: dict[str, Any], *, status: int = 200) -> None:
        self.set_header("ETag", etag_for(item))
        self.write_json(item, status=status)


class ItemCollectionHandler(ItemsBase):
    async def post(self) -> None:
        fields = self.validated(ItemWrite, self.json_body())
        item = await self.store.create(fields.model_dump(), owner=self.owner())
        self.set_header("Location", self.reverse_url("item", item["id"]))
        self.write_item(item, status=201)

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
        tag = self.get_query_argument("tag", None) or None
        cursor = self.get_query_argument("cursor", None) or None
        try:
            page = await self.store.list(
                limit=int(raw_limit), cursor=cursor, tag=tag, owner=self.scope()
            )
        except InvalidCursor as error:
            raise Problem(400, str(error), slug="bad-cursor") from None
        self.write_json({"items": page.items, "next_cursor": page.next_cursor})


class ItemHandler(ItemsBase):
    async def get(self, item_id: str) -> None:
        try:
            item = await self.store.get(item_id, owner=self.scope())
        except ItemNotFound:
            raise self.not_found(item_id) from None
        etag = etag_for(item)
        if not_modified(self.request.headers.get("If-None-Match"), etag):
            self.set_header("ETag", etag)
            self.set_status(304)
            self.finish()
            return
        self.write_item(item)

    async def put(self, item_id: str) -> None:
        fields = self.validated(ItemWrite, self.json_body())
        await self._replace(item_id, fields.model_dump())

    async def patch(self, item_id: str) -> None:
        patch = self.json_body(content_types=(MERGE_PATCH,))
        if not isinstance(patch, dict):
            raise Problem(422, "a merge patch must be a JSON object", slug="validation-failed")
        self.validated(ItemPatch, patch)
        expected = self.expected_version()
        # Without If-Match the patch applies to whatever version is current: when another
        # write lands between the read and the write, read again rather than answer 412 to a
        # client that asked for no condition.
        for attempt in range(PATCH_ATTEMPTS):
            try:
                current = await self.store.get(item_id, owner=self.scope())
                writable = {key: current[key] for key in ItemWrite.model_fields}
                fields = self.validated(ItemWrite, merge_patch(writable, patch))
                item = await self.store.replace(
                    item_id,
                    fields.model_dump(),
                    expected_version=current["version"] if expected is None else expected,
                    owner=self.scope(),
                )
            except ItemNotFound:
                raise self.not_found(item_id) from None
            except PreconditionFailed as error:
                if expected is None and attempt + 1 < PATCH_ATTEMPTS:
                    continue
                raise self.stale(error) from None
            self.write_item(item)
            return

    async def delete(self, item_id: str) -> None:
        try:
            await self.store.delete(
                item_id, expected_version=self.expected_version(), owner=self.scope()
            )
        except ItemNotFound:
            raise self.not_found(item_id) from None
        except PreconditionFailed as error:
            raise self.stale(error) from None
        self.set_status(204)
        self.finish()

    async def _replace(
        self, item_id: str, fields: dict[str, Any], *, expected: int | None = None
    ) -> None:
        version = expected if expected is not None else self.expected_version()
        try:
            item = await self.store.replace(
                item_id, fields, expected_version=version, owner=self.scope()
            )
        except ItemNotFound:
            raise self.not_found(item_id) from None
        except PreconditionFailed as error:
            raise self.stale(error) from None
        self.write_item(item)
