"""``/api/v1/export/items``: every item as NDJSON, streamed so memory stays flat."""

from __future__ import annotations

import logging

from tornado.iostream import StreamClosedError

from gale_service.handlers.base import ApiHandler, dump_json
from gale_service.store import ItemStore

FLUSH_EVERY = 200
log = logging.getLogger(__name__)


class ItemExportHandler(ApiHandler):
    produces = ("application/x-ndjson", "application/json")

    async def get(self) -> None:
        store: ItemStore = self.services["store"]
        owner = self.require_user().owner_scope()
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Content-Disposition", 'attachment; filename="items.ndjson"')
        pending = sent = 0
        try:
            async for item in store.export(owner=owner):
                self.write(dump_json(item) + "\n")
                pending += 1
                sent += 1
                if pending >= FLUSH_EVERY:
                    await self.flush()
                    pending = 0
            self.finish()
        except StreamClosedError:
            # The client hung up (a cancelled download): nothing is wrong with the service.
            log.info("export abandoned by the client", extra={"items_sent": sent})
