"""Bare Tornado: the same ``find_one`` as ``GET /api/v1/items/{id}`` and a constant ``/livez``.

No validation, auth, logging, metrics or problem+json: what is left when the service's own
layers are taken away.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from tornado.httpserver import HTTPServer
from tornado.web import Application, HTTPError, RequestHandler


class ItemHandler(RequestHandler):
    def initialize(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self.collection = collection

    async def get(self, item_id: str) -> None:
        document = await self.collection.find_one({"_id": ObjectId(item_id)})
        if document is None:
            raise HTTPError(404)
        document["id"] = str(document.pop("_id"))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(document, default=str))


class LivenessHandler(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(b'{"status":"ok"}')


async def serve(uri: str, database: str, port: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    collection = client[database]["items"]
    app = Application(
        [
            (r"/items/([^/]+)", ItemHandler, {"collection": collection}),
            (r"/livez", LivenessHandler),
        ]
    )
    HTTPServer(app).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], int(sys.argv[3])))
