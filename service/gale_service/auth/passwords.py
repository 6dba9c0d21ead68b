"""Argon2id password hashing, always on the bounded ``blocking`` pool.

Hashing costs tens of milliseconds of CPU and tens of MiB of memory by design; on the event
loop it would stall every other request. The pool's queue bound turns a login flood into
quick 503s instead of a backlog. Unknown users are checked against a dummy hash so response
time does not reveal which usernames exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gale_service.executors import BoundedPool


class PasswordHasher:
    def __init__(
        self, pool: BoundedPool, *, time_cost: int, memory_kib: int, parallelism: int
    ) -> None:
        self._pool = pool
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await self._pool.run(self._argon2.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; ``None`` (no such user) never matches."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash("not a password anyone has")
            await self._pool.run(self._check, self._dummy, password)
            return False
        return await self._pool.run(self._check, stored, password)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._argon2.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
