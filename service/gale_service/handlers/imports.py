"""``POST /api/v1/import/<name>``: many documents of a resource from one NDJSON body, all or
nothing.

Parsing and validation run in the ``cpu`` process pool; the inserts and their events then
commit in one transaction, so a rejected import stores nothing.

An export imports back unchanged: lines may carry ``id``, ``owner``, ``created_at``,
``updated_at`` and ``version``, which are kept. Ownership: a line without ``owner`` belongs
to the caller; only an admin may import documents for another owner (a user's lines naming
someone else are a 403). An id that is already stored makes the whole import a 409 listing
every such id, unless the caller asks ``?on_conflict=skip``: then those lines are skipped.
"""

from __future__ import annotations

from gale_service.bulk import parse_lines
from gale_service.executors import ExecutorBusy
from gale_service.handlers.documents import ResourceHandler
from gale_service.problems import Problem
from gale_service.store import DocumentsExist

NDJSON = "application/x-ndjson"
ON_CONFLICT = ("fail", "skip")


class ImportHandler(ResourceHandler):
    async def post(self) -> None:
        media = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != NDJSON:
            raise Problem(
                415,
                f"expected a body of type {NDJSON} (one {self.resource.singular} per line), "
                f"got {media or 'no Content-Type'}",
                slug="unsupported-media-type",
            )
        on_conflict = self.get_query_argument("on_conflict", "fail")
        if on_conflict not in ON_CONFLICT:
            raise Problem(
                400,
                f"on_conflict must be fail or skip, got {on_conflict[:40]!r}",
                slug="bad-query",
                errors=[{"field": "on_conflict", "message": "fail (the default) or skip"}],
            )
        principal = self.require_user()
        try:
            parsed = await self.services.executors.cpu.run(
                parse_lines, self.request.body, self.resource.restore
            )
        except ExecutorBusy:
            raise Problem(
                503,
                "too many imports are being parsed; retry shortly",
                slug="busy",
                headers={"Retry-After": "1"},
            ) from None
        if parsed.broken:
            raise Problem(
                400,
                f"{len(parsed.broken)} line(s) are not valid JSON",
                slug="bad-json",
                errors=parsed.broken,
            )
        if parsed.invalid:
            raise Problem(
                422,
                f"{len(parsed.invalid)} field(s) failed validation",
                slug="validation-failed",
                errors=parsed.invalid,
            )
        foreign = [
            {"field": f"line {line}.owner", "message": f"not {principal.username}: admins only"}
            for line, document in zip(parsed.lines, parsed.documents, strict=True)
            if document.get("owner", principal.username) != principal.username
        ]
        if foreign and not principal.is_admin:
            raise Problem(
                403,
                f"{len(foreign)} line(s) name another owner; only an admin may import those",
                slug="forbidden",
                errors=foreign,
            )
        try:
            stored, skipped = await self.store.restore_many(
                parsed.documents, owner=principal.username, skip_existing=on_conflict == "skip"
            )
        except DocumentsExist as error:
            raise Problem(
                409,
                f"{len(error.ids)} {self.resource.singular} id(s) already exist; nothing was "
                "imported (send ?on_conflict=skip to import the others)",
                slug=f"{self.resource.name}-exist",
                errors=[{"field": key, "message": "already exists"} for key in error.ids],
            ) from None
        self.write_json(
            {"created": len(stored), "ids": [doc["id"] for doc in stored], "skipped": skipped},
            status=201 if stored else 200,
        )
