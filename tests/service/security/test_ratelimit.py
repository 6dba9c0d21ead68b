"""Token buckets on a fake clock: burst, refill, refusal timing, bounded memory."""

from __future__ import annotations

from gale_service.security.ratelimit import RateLimiter, rate_limit_headers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, *, max_keys: int = 100) -> RateLimiter:
    return RateLimiter(name="ip", burst=3, per_second=0.5, clock=clock, max_keys=max_keys)


def test_a_burst_is_admitted_then_refused_with_the_wait_for_one_token() -> None:
    clock = Clock()
    bucket = limiter(clock)
    assert [bucket.take("a").remaining for _ in range(3)] == [2, 1, 0]
    refused = bucket.take("a")
    assert not refused.allowed
    assert refused.retry_after == 2.0
    assert refused.reset == 6.0


def test_tokens_refill_at_the_rate_and_never_above_the_burst() -> None:
    clock = Clock()
    bucket = limiter(clock)
    for _ in range(3):
        bucket.take("a")
    clock.now += 2.0
    assert bucket.take("a").allowed
    assert not bucket.take("a").allowed
    clock.now += 3600
    assert bucket.take("a").remaining == 2


def test_a_clock_going_backwards_refills_nothing() -> None:
    clock = Clock()
    bucket = limiter(clock)
    for _ in range(3):
        bucket.take("a")
    clock.now -= 100
    assert not bucket.take("a").allowed


def test_keys_are_independent_and_the_table_is_bounded() -> None:
    clock = Clock()
    bucket = limiter(clock, max_keys=2)
    for _ in range(3):
        bucket.take("a")
    assert bucket.take("b").allowed
    bucket.take("c")
    assert bucket.take("a").allowed, "the least recently used key was evicted and starts full"


def test_headers_follow_the_ietf_draft_and_round_retry_after_up() -> None:
    clock = Clock()
    bucket = limiter(clock)
    admitted = rate_limit_headers(bucket, bucket.take("a"))
    assert admitted == {"RateLimit-Policy": '"ip";q=3;w=6', "RateLimit": '"ip";r=2;t=2'}
    for _ in range(2):
        bucket.take("a")
    clock.now += 0.5
    refused = rate_limit_headers(bucket, bucket.take("a"))
    assert refused["Retry-After"] == "2"
    assert refused["RateLimit"].startswith('"ip";r=0;')
