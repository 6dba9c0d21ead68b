"""The baseline: a bare Tornado handler doing the same driver call as ``GET /api/v1/items/{id}``.

No validation, auth, logging, metrics or problem+json: what is left when the service's own
layers are taken away. Run as ``python -m bench.bare URI DATABASE PORT``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from bson import ObjectId
from pymongo import AsyncMongoClient
from tornado.httpserver import HTTPServer
from tornado.web import Application, HTTPError, RequestHandler


class ItemHandler(RequestHandler):
    def initialize(self, collection: object) -> None:
        self.collection = collection

    async def get(self, item_id: str) -> None:
        document = await self.collection.find_one({"_id": ObjectId(item_id)})  # type: ignore[attr-defined]
        if document is None:
            raise HTTPError(404)
        document["id"] = str(document.pop("_id"))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(document, default=str))


async def serve(uri: str, database: str, port: int) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
    collection = client[database]["items"]
    app = Application([(r"/items/([^/]+)", ItemHandler, {"collection": collection})])
    HTTPServer(app).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], int(sys.argv[3])))
