"""The verified-token cache: hits skip verification, expiry still holds, failures are not kept."""

from __future__ import annotations

import time

import pytest
from gale_service.auth.keys import parse_key_set
from gale_service.auth.principal import Principal
from gale_service.auth.token_cache import VerifiedTokens
from gale_service.auth.tokens import InvalidToken, TokenPolicy, issue_token

POLICY = TokenPolicy(
    keys=parse_key_set("k1:" + "s" * 40), issuer="gale", audience="gale-api", ttl_seconds=900
)


def token(name: str = "alice", *, policy: TokenPolicy = POLICY, now: float | None = None) -> str:
    return issue_token(Principal(username=name), policy=policy, now=now)


def test_a_verified_token_is_answered_from_memory() -> None:
    cache = VerifiedTokens()
    bearer = token()
    first = cache.verify(bearer, policy=POLICY)
    assert first.username == "alice"
    assert cache.verify(bearer, policy=POLICY) is first
    assert len(cache) == 1


def test_a_cached_token_is_refused_once_it_expires() -> None:
    strict = TokenPolicy(
        keys=POLICY.keys, issuer="gale", audience="gale-api", ttl_seconds=1, leeway_seconds=0
    )
    cache = VerifiedTokens()
    bearer = token(policy=strict)
    cache.verify(bearer, policy=strict)
    time.sleep(2.1)  # exp has whole-second precision
    with pytest.raises(InvalidToken, match="expired"):
        cache.verify(bearer, policy=strict)
    assert len(cache) == 0


def test_the_clock_decides_when_an_entry_is_stale() -> None:
    now = [time.time()]
    cache = VerifiedTokens(clock=lambda: now[0])
    bearer = token()
    first = cache.verify(bearer, policy=POLICY)
    now[0] += POLICY.ttl_seconds + POLICY.leeway_seconds + 1
    # Past its exp by the cache's clock: verified again (the real clock still accepts it).
    assert cache.verify(bearer, policy=POLICY) is not first


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-jwt",
        token(
            policy=TokenPolicy(
                keys=parse_key_set("k1:" + "x" * 40),
                issuer="gale",
                audience="gale-api",
                ttl_seconds=900,
            )
        ),
        token(now=time.time() - 3600),
    ],
    ids=["malformed", "wrong-key", "expired"],
)
def test_a_token_that_fails_is_not_remembered(bad: str) -> None:
    cache = VerifiedTokens()
    for _ in range(2):
        with pytest.raises(InvalidToken):
            cache.verify(bad, policy=POLICY)
    assert len(cache) == 0


def test_the_cache_is_bounded_oldest_out_first() -> None:
    cache = VerifiedTokens(capacity=2)
    tokens = [token(name) for name in ("a", "b", "c")]
    kept = [cache.verify(t, policy=POLICY) for t in tokens]
    assert len(cache) == 2
    assert cache.verify(tokens[2], policy=POLICY) is kept[2]
    assert cache.verify(tokens[0], policy=POLICY) is not kept[0]
