"""Starlette on uvicorn (uvloop, httptools): the same read, no auth, no response validation."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from bson import ObjectId
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def build(uri: str, database: str) -> Starlette:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    collection = client[database]["items"]

    async def item(request: Request) -> Response:
        document = await collection.find_one({"_id": ObjectId(request.path_params["item_id"])})
        if document is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        document["id"] = str(document.pop("_id"))
        for key in ("created_at", "updated_at"):
            document[key] = document[key].isoformat()
        return JSONResponse(document)

    async def livez(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        await client.close()

    return Starlette(
        routes=[Route("/items/{item_id}", item), Route("/livez", livez)], lifespan=lifespan
    )


if __name__ == "__main__":
    app = build(sys.argv[1], sys.argv[2])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
