"""Indexes and data migrations of the platform's collections, applied at start-up,
idempotently, recorded in one document.

Each step runs once per database: the ``schema_version`` document records the highest applied
step, and index creation is itself idempotent, so two replicas starting together are safe.
A resource's listing indexes are not steps here: its store ensures them at every start
(:meth:`~gale_service.store.VersionedStore.ensure_indexes`), so a new resource needs none.
Step 1 created the items' indexes before that; its number stays taken.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from pymongo import ASCENDING

from gale_service.db import MongoGateway
from gale_service.db.driver import translate_errors
from gale_service.store.users import USERS, username_key

log = logging.getLogger(__name__)
META = "meta"
VERSION_ID = "schema_version"

Migration = Callable[[MongoGateway], Awaitable[None]]


async def _events_indexes(gateway: MongoGateway) -> None:
    await gateway.collection("events").create_index([("at", ASCENDING)], name="at")


async def _users_case_insensitive(gateway: MongoGateway) -> None:
    """Give every user its case-folded ``key`` and make that unique.

    Users created before this step may already differ only in case (``Bob`` and ``bob``):
    the oldest keeps the name's key, the others are left without one (the index is sparse, so
    they can still sign in) and are named in a warning for an operator to rename or remove.
    """
    users = gateway.collection(USERS)
    taken: set[str] = set()
    clashes: list[str] = []
    async for user in users.find({}, {"_id": 1, "key": 1}).sort("created_at", ASCENDING):
        key = username_key(str(user["_id"]))
        if key in taken:
            clashes.append(str(user["_id"]))
            await users.update_one({"_id": user["_id"]}, {"$unset": {"key": ""}})
            continue
        taken.add(key)
        if user.get("key") != key:
            await users.update_one({"_id": user["_id"]}, {"$set": {"key": key}})
    if clashes:
        log.warning(
            "usernames that differ from an older one only in letter case",
            extra={"usernames": clashes},
        )
    await users.create_index([("key", ASCENDING)], name="key", unique=True, sparse=True)


MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (2, "events: time index for audit queries", _events_indexes),
    (3, "users: usernames unique regardless of letter case", _users_case_insensitive),
)


async def apply_migrations(gateway: MongoGateway) -> int:
    """Apply every step above the recorded version and return the version reached."""
    meta = gateway.collection(META)
    async with translate_errors():
        record = await meta.find_one({"_id": VERSION_ID})
        current = int(record["version"]) if record else 0
        for version, description, step in MIGRATIONS:
            if version <= current:
                continue
            log.info("applying migration", extra={"version": version, "step": description})
            await step(gateway)
            await meta.update_one(
                {"_id": VERSION_ID},
                {"$set": {"version": version, "applied_at": datetime.now(UTC)}},
                upsert=True,
            )
            current = version
    return current
