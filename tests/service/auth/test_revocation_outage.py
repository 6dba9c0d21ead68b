"""During a database outage a stale standing is used at once, not after a wasted wait."""

from __future__ import annotations

import asyncio
import contextlib
import time

from gale_service.auth.revocation import STALENESS_SECONDS, Revocations
from gale_service.db import connect
from gale_service.store.errors import StoreUnavailable
from gale_service.store.users import UserStore

from tests.mongo import SecantusServer

SELECTION_MS = 1500


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_known_outage_answers_from_the_last_standing_without_waiting(
    own_server: SecantusServer,
) -> None:
    """Waiting out server selection here would only end in the same fallback, and the
    request's own store operation then waits again: an outage's 503 would take twice the
    server-selection timeout."""
    gateway = connect(
        own_server.uri,
        database="revocation_outage",
        server_selection_timeout_ms=SELECTION_MS,
        timeout_ms=3000,
    )
    try:
        users = UserStore(gateway)
        await users.create("alice", password_hash="unused")
        await users.revoke_all("alice")
        clock = Clock()
        revocations = Revocations(users, clock=clock)
        known = await revocations.standing("alice")
        assert known.generation == 1

        own_server.kill()
        for _ in range(10):  # an operation against the dead server makes the driver notice
            with contextlib.suppress(StoreUnavailable):
                await users.get("alice")
            if not users.reachable():
                break
            await asyncio.sleep(0.2)
        assert not users.reachable(), "the driver never noticed the outage"

        clock.now += STALENESS_SECONDS + 1
        started = time.monotonic()
        assert await revocations.standing("alice") == known
        assert time.monotonic() - started < SELECTION_MS / 1000 / 3
    finally:
        await gateway.close()
