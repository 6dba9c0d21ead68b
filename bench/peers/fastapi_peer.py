"""FastAPI on uvicorn (uvloop, httptools): the peer the authenticated read is measured against.

Like Gale's route it verifies a bearer JWT (PyJWT, HS256 pinned, ``kid`` looked up, issuer,
audience and the same required claims), reads the item with one ``find_one`` and validates the
response through a pydantic model. It has no rate limits, security headers, access log,
metrics or spans: those are Gale's extra work, and the target is to cost no more anyway.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import jwt
import uvicorn
from bson import ObjectId
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from bench.harness import AUDIENCE, ISSUER, JWT_KEYS

KEYS = dict(pair.split(":", 1) for pair in JWT_KEYS.split(","))
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub"]


class Item(BaseModel):
    id: str
    name: str
    description: str
    tags: list[str]
    owner: str
    created_at: datetime
    updated_at: datetime
    version: int


def user(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer())],
) -> dict[str, Any]:
    token = credentials.credentials
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        secret = KEYS.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise HTTPException(401, "unknown key")
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as error:
        raise HTTPException(401, str(error)) from None
    return claims


def build(uri: str, database: str) -> FastAPI:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    collection = client[database]["items"]
    app = FastAPI()

    @app.get("/items/{item_id}", response_model=Item)
    async def item(item_id: str, claims: Annotated[dict[str, Any], Depends(user)]) -> Any:
        query: dict[str, Any] = {"_id": ObjectId(item_id)}
        if claims.get("role") != "admin":
            query["owner"] = claims["sub"]
        document = await collection.find_one(query)
        if document is None:
            raise HTTPException(404, "not found")
        document["id"] = str(document.pop("_id"))
        return document

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    app = build(sys.argv[1], sys.argv[2])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
