"""Users in MongoDB: the username is the document ``_id``, so it is unique by construction.

Only password *hashes* are stored (argon2id, computed by the caller off the event loop).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from gale_service.db import MongoGateway
from gale_service.db.driver import Document, translate_errors

USERS = "users"


class UserExists(Exception):
    """A user with that name already exists."""


class UserStore:
    def __init__(self, gateway: MongoGateway) -> None:
        self._users = gateway.collection(USERS)

    async def get(self, username: str) -> Document | None:
        async with translate_errors():
            found: Document | None = await self._users.find_one({"_id": username})
        return found

    async def create(
        self, username: str, *, password_hash: str, is_admin: bool = False
    ) -> Document:
        document: Document = {
            "_id": username,
            "password_hash": password_hash,
            "is_admin": is_admin,
            "locale": None,
            "created_at": datetime.now(UTC),
        }
        try:
            async with translate_errors():
                await self._users.insert_one(document)
        except DuplicateKeyError:
            raise UserExists(username) from None
        return document

    async def set_password(self, username: str, *, password_hash: str, is_admin: bool) -> None:
        """Create or reset a user's password (the admin bootstrap's rotation path)."""
        update: dict[str, Any] = {"password_hash": password_hash, "is_admin": is_admin}
        async with translate_errors():
            await self._users.update_one(
                {"_id": username},
                {"$set": update, "$setOnInsert": {"locale": None, "created_at": datetime.now(UTC)}},
                upsert=True,
            )

    async def set_locale(self, username: str, locale: str | None) -> None:
        async with translate_errors():
            await self._users.update_one({"_id": username}, {"$set": {"locale": locale}})


def public_user(document: Document) -> Document:
    """A user as the API shows it: never the hash."""
    return {
        "username": document["_id"],
        "is_admin": bool(document.get("is_admin")),
        "locale": document.get("locale"),
    }
