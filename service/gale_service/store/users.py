"""Users in MongoDB: the username is the document ``_id``, and its case-folded ``key`` is
unique too (index ``key``), so ``Bob`` cannot be created beside ``bob``.

Only password *hashes* are stored (argon2id, computed by the caller off the event loop).
``generation`` and ``ended_sessions`` say which credentials still stand
(:mod:`gale_service.auth.revocation`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from gale_service.db import MongoGateway
from gale_service.db.driver import Document

USERS = "users"
#: Ended sessions one user may have on record; beyond it, logout ends all of them instead.
MAX_ENDED_SESSIONS = 100


class UserExists(Exception):
    """A user with that name (in any letter case) already exists."""


def username_key(username: str) -> str:
    """What makes two usernames the same: letter case never does."""
    return username.casefold()


@dataclass(frozen=True, slots=True)
class Standing:
    """Which of a user's credentials still stand: those of this generation, bar ended ones."""

    generation: int = 0
    ended: frozenset[str] = frozenset()


class UserStore:
    def __init__(self, gateway: MongoGateway) -> None:
        self._gateway = gateway
        self._users = gateway.collection(USERS)

    async def get(self, username: str) -> Document | None:
        async with self._gateway.operation():
            found: Document | None = await self._users.find_one({"_id": username})
        return found

    async def create(
        self, username: str, *, password_hash: str, is_admin: bool = False
    ) -> Document:
        document: Document = {
            "_id": username,
            "key": username_key(username),
            "password_hash": password_hash,
            "is_admin": is_admin,
            "locale": None,
            "generation": 0,
            "created_at": datetime.now(UTC),
        }
        try:
            async with self._gateway.operation():
                await self._users.insert_one(document)
        except DuplicateKeyError:
            raise UserExists(username) from None
        return document

    async def set_password(self, username: str, *, password_hash: str, is_admin: bool) -> None:
        """Create or reset a user's password; a reset revokes every credential issued before."""
        update: dict[str, Any] = {"password_hash": password_hash, "is_admin": is_admin}
        async with self._gateway.operation():
            result = await self._users.update_one(
                {"_id": username}, {"$set": update, "$inc": {"generation": 1}}
            )
        if result.matched_count:
            return
        try:
            await self.create(username, password_hash=password_hash, is_admin=is_admin)
        except UserExists:
            # Created meanwhile (another replica bootstrapping): reset it like any other.
            async with self._gateway.operation():
                await self._users.update_one(
                    {"_id": username}, {"$set": update, "$inc": {"generation": 1}}
                )

    async def set_locale(self, username: str, locale: str | None) -> None:
        async with self._gateway.operation():
            await self._users.update_one({"_id": username}, {"$set": {"locale": locale}})

    def reachable(self) -> bool:
        """Whether a read could be sent now; ``False`` during an outage the driver has seen."""
        return self._gateway.reachable()

    async def standing(self, username: str) -> Standing:
        """The user's generation and unexpired ended sessions (an unknown user: generation 0)."""
        async with self._gateway.operation():
            found = await self._users.find_one(
                {"_id": username}, {"generation": 1, "ended_sessions": 1}
            )
        if found is None:
            return Standing()
        now = time.time()
        ended = found.get("ended_sessions") or {}
        return Standing(
            generation=int(found.get("generation") or 0),
            ended=frozenset(sid for sid, until in ended.items() if until > now),
        )

    async def revoke_all(self, username: str) -> bool:
        """End every credential of ``username``; whether the user exists."""
        async with self._gateway.operation():
            result = await self._users.update_one(
                {"_id": username},
                {"$inc": {"generation": 1}, "$set": {"ended_sessions": {}}},
            )
        return bool(result.matched_count)

    async def end_session(self, username: str, session: str, *, until: float) -> None:
        """Record ``session`` as ended until ``until`` (epoch seconds), when it expires anyway.

        One ``$set`` per session, so concurrent logouts never overwrite each other; expired
        entries are pruned on the way, and past :data:`MAX_ENDED_SESSIONS` every session ends.
        """
        now = time.time()
        async with self._gateway.operation():
            found = await self._users.find_one({"_id": username}, {"ended_sessions": 1})
            if found is None:
                return
            ended: dict[str, float] = found.get("ended_sessions") or {}
            live = [sid for sid, expiry in ended.items() if expiry > now]
            if len(live) >= MAX_ENDED_SESSIONS:
                await self.revoke_all(username)
                return
            update: dict[str, Any] = {"$set": {f"ended_sessions.{session}": until}}
            expired = {f"ended_sessions.{sid}": "" for sid, t in ended.items() if t <= now}
            if expired:
                update["$unset"] = expired
            await self._users.update_one({"_id": username}, update)


def public_user(document: Document) -> Document:
    """A user as the API shows it: never the hash."""
    return {
        "username": document["_id"],
        "is_admin": bool(document.get("is_admin")),
        "locale": document.get("locale"),
    }
