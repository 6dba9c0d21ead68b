"""Bearer tokens verified once, then recognised by value until they expire.

A client sends the same token on every request for its whole lifetime (15 minutes by
default), and checking an HS256 signature and seven claims costs more CPU than the rest of
an authenticated read's own work. A token that verified once stays valid until its ``exp``
(plus the policy's leeway): its signature, issuer, audience and ``nbf`` cannot change, and
the key set is fixed for the life of the process. So a hit only checks the clock. Revocation
is not a property of the token and is checked on every request after this
(``auth.request``). Only tokens that verified are kept, so a caller cannot fill the cache
without a signing key, and it is bounded anyway (oldest entry out first).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt

from gale_service.auth.principal import Principal
from gale_service.auth.tokens import TokenPolicy, verify_token

DEFAULT_CAPACITY = 10_000


class VerifiedTokens:
    """:func:`verify_token` with a bounded memory of tokens that passed."""

    def __init__(
        self, *, capacity: int = DEFAULT_CAPACITY, clock: Callable[[], float] = time.time
    ) -> None:
        self._capacity = capacity
        self._clock = clock
        self._valid_until: dict[str, tuple[float, Principal]] = {}

    def verify(self, token: str, *, policy: TokenPolicy) -> Principal:
        """The token's principal; :class:`~gale_service.auth.tokens.InvalidToken` as
        :func:`verify_token` raises it."""
        known = self._valid_until.get(token)
        if known is not None:
            if self._clock() < known[0]:
                return known[1]
            del self._valid_until[token]
        principal = verify_token(token, policy=policy)
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        if len(self._valid_until) >= self._capacity:
            del self._valid_until[next(iter(self._valid_until))]
        self._valid_until[token] = (float(expires) + policy.leeway_seconds, principal)
        return principal

    def __len__(self) -> int:
        return len(self._valid_until)
