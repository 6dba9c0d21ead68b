"""``POST /api/v1/import/items``: many items from one NDJSON body, all or nothing.

Parsing and validation run in the ``cpu`` process pool; the inserts and their events then
commit in one transaction, so a rejected import stores nothing.
"""

from __future__ import annotations

from gale_service.bulk import parse_item_lines
from gale_service.executors import ExecutorBusy, Executors
from gale_service.handlers.items import ItemsBase
from gale_service.problems import Problem

NDJSON = "application/x-ndjson"


class ItemImportHandler(ItemsBase):
    async def post(self) -> None:
        media = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != NDJSON:
            raise Problem(
                415,
                f"expected a body of type {NDJSON} (one item per line), "
                f"got {media or 'no Content-Type'}",
                slug="unsupported-media-type",
            )
        owner = self.owner()
        executors: Executors = self.services["executors"]
        try:
            parsed = await executors.cpu.run(parse_item_lines, self.request.body)
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
        created = await self.store.create_many(parsed.items, owner=owner)
        self.write_json(
            {"created": len(created), "ids": [item["id"] for item in created]}, status=201
        )
