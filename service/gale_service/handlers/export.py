"""``GET /api/v1/export/<name>``: every document of a resource as NDJSON, streamed so memory
stays flat."""

from __future__ import annotations

import logging

from tornado.iostream import StreamClosedError

from gale_service.handlers.base import dump_json
from gale_service.handlers.documents import ResourceHandler

FLUSH_EVERY = 200
log = logging.getLogger(__name__)


class ExportHandler(ResourceHandler):
    produces = ("application/x-ndjson", "application/json")

    async def get(self) -> None:
        owner = self.scope()
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header(
            "Content-Disposition", f'attachment; filename="{self.resource.name}.ndjson"'
        )
        pending = sent = 0
        try:
            async for document in self.store.export(owner=owner):
                self.write(dump_json(document) + "\n")
                pending += 1
                sent += 1
                if pending >= FLUSH_EVERY:
                    await self.flush()
                    pending = 0
            self.finish()
        except StreamClosedError:
            # The client hung up (a cancelled download): nothing is wrong with the service.
            log.info("export abandoned by the client", extra={"documents_sent": sent})
