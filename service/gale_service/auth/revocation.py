"""Ending sessions and tokens before they expire, without a database read per request.

Every credential carries the *generation* its user had when it was issued (the session
cookie's ``g``, the token's ``gen`` claim; absent means 0, so credentials from before this
existed stay valid). A password change and an admin's revoke-all bump the stored generation,
which ends every older credential of that user at once. Logout ends one session: its id
(``s``) is recorded on the user until the session would have expired anyway.

Each replica caches a user's standing (generation and ended sessions) for
:data:`STALENESS_SECONDS`: a revocation is effective at once on the replica that made it and
within that bound everywhere else. The cost is one indexed read per user per bound per
replica, and a dictionary lookup per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from gale_service.auth.principal import Principal
from gale_service.store.errors import StoreUnavailable
from gale_service.store.users import Standing, UserStore

#: How long another replica may still accept a revoked credential (seconds).
STALENESS_SECONDS = 5.0
#: Users whose standing one replica remembers; the least recently fetched go first.
MAX_CACHED_USERS = 10_000


@dataclass(frozen=True, slots=True)
class _Cached:
    standing: Standing
    fetched_at: float


class Revocations:
    def __init__(
        self,
        users: UserStore,
        *,
        staleness_seconds: float = STALENESS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = users
        self.staleness_seconds = staleness_seconds
        self.clock = clock
        self._cache: dict[str, _Cached] = {}
        self._pending: dict[str, asyncio.Future[Standing]] = {}

    async def is_current(self, principal: Principal) -> bool:
        """Whether ``principal``'s credential is neither superseded nor ended."""
        standing = await self.standing(principal.username)
        if principal.generation != standing.generation:
            return False
        return principal.session is None or principal.session not in standing.ended

    async def standing(self, username: str) -> Standing:
        cached = self._cache.get(username)
        now = self.clock()
        if cached is not None and now - cached.fetched_at < self.staleness_seconds:
            return cached.standing
        if cached is not None and not self._users.reachable():
            # The read would wait out server selection only to fall back to this: the
            # request's own store operation then waits again, doubling an outage's 503.
            return cached.standing
        pending = self._pending.get(username)
        if pending is None:
            # One read per user however many of its requests arrive while it is under way.
            pending = asyncio.ensure_future(self._fetch(username))
            self._pending[username] = pending
        try:
            return await asyncio.shield(pending)
        except StoreUnavailable:
            if cached is None:
                raise
            return cached.standing  # the database is down: the last known standing holds

    async def _fetch(self, username: str) -> Standing:
        try:
            standing = await self._users.standing(username)
        finally:
            self._pending.pop(username, None)
        self._cache.pop(username, None)
        self._cache[username] = _Cached(standing, self.clock())
        while len(self._cache) > MAX_CACHED_USERS:
            del self._cache[next(iter(self._cache))]
        return standing

    def forget(self, username: str) -> None:
        """After a revocation on this replica: the next request reads the new standing."""
        self._cache.pop(username, None)
