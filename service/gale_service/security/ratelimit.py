"""Token buckets, per key, in this process's memory.

Each key (a client IP, a user, an IP+username pair for logins) has a bucket holding up to
``burst`` tokens, refilled at ``per_second``; a request takes one or is refused with the
time until one is back. The table of buckets is bounded (least recently used keys go
first), so a spray of source addresses cannot grow memory without limit.

Limits are per process: N replicas with W workers each admit N*W times the rate. A limit that holds
across replicas needs shared state (Redis ``INCR``/Lua, or a gateway that rate-limits).
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: Seconds until a token is available again (0 when allowed).
    retry_after: float
    #: Seconds until the bucket is full again.
    reset: float


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        *,
        name: str,
        burst: int,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.name = name
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> Decision:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
            bucket.updated = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        missing = self.burst - bucket.tokens
        return Decision(
            allowed=allowed,
            limit=self.burst,
            remaining=int(bucket.tokens),
            retry_after=0.0 if allowed else (1.0 - bucket.tokens) / self.per_second,
            reset=missing / self.per_second,
        )

    def policy(self) -> str:
        """This bucket in the IETF ``RateLimit-Policy`` structured-field syntax (sent on every
        response: formatted once per setting)."""
        return _policy(self.name, self.burst, self.per_second)


@functools.lru_cache(maxsize=64)
def _policy(name: str, burst: int, per_second: float) -> str:
    window = max(1, math.ceil(burst / per_second))
    return f'"{name}";q={burst};w={window}'


def rate_limit_headers(limiter: RateLimiter, decision: Decision) -> dict[str, str]:
    """``RateLimit``/``RateLimit-Policy`` (draft-ietf-httpapi-ratelimit-headers), plus
    ``Retry-After`` (whole seconds, rounded up) on refusal."""
    headers = {
        "RateLimit-Policy": limiter.policy(),
        "RateLimit": f'"{limiter.name}";r={decision.remaining};t={math.ceil(decision.reset)}',
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after)))
    return headers
