"""What checking revocation costs a request: the cached check against verifying the bearer
token, which every authenticated request pays anyway, measured in the same run.

The check is a dictionary lookup while the user's standing is cached, and one indexed read
of the user document when it is not (at most once per user per
``gale_service.auth.revocation.STALENESS_SECONDS`` per replica). Both are timed here against a
real SecantusDB; the read is what one replica pays per active user per staleness window.

Run: ``python -m bench.revocation`` (``--checks``); ``python -m bench`` runs it too.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from gale_service.auth.keys import parse_key_set
from gale_service.auth.principal import Principal
from gale_service.auth.revocation import STALENESS_SECONDS, Revocations
from gale_service.auth.tokens import TokenPolicy, issue_token, verify_token
from gale_service.db import connect
from gale_service.store.users import UserStore

from tests.mongo import SecantusServer


async def per_call(work: Callable[[], Awaitable[object]], *, calls: int) -> float:
    """Seconds per call, best of three runs (the least disturbed by other processes)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            await work()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


async def measure(uri: str, *, checks: int) -> str:
    gateway = connect(uri, database="bench_revocation", driver="pymongo")
    try:
        users = UserStore(gateway)
        await users.create("bench", password_hash="x")
        revocations = Revocations(users)
        policy = TokenPolicy(
            keys=parse_key_set("bench:" + "k" * 40), issuer="gale", audience="gale", ttl_seconds=900
        )
        principal = Principal(username="bench")
        token = issue_token(principal, policy=policy)

        async def verify() -> object:
            return verify_token(token, policy=policy)

        async def cached() -> object:
            return await revocations.is_current(principal)

        async def uncached() -> object:
            revocations.forget("bench")
            return await revocations.is_current(principal)

        await uncached()
        token_cost = await per_call(verify, calls=checks)
        cached_cost = await per_call(cached, calls=checks)
        read_cost = await per_call(uncached, calls=max(checks // 50, 20))
    finally:
        await gateway.close()
    return "\n".join(
        [
            f"{'':<24} {'µs/request':>12}",
            f"{'verify bearer token':<24} {token_cost * 1e6:>12.1f}",
            f"{'revocation, cached':<24} {cached_cost * 1e6:>12.1f}",
            f"{'revocation, DB read':<24} {read_cost * 1e6:>12.1f}",
            f"cached check / token check: {cached_cost / token_cost:.2f}; the DB read happens "
            f"at most once per user per {STALENESS_SECONDS:g} s per replica",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.revocation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--checks", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gale-bench-revocation-") as tmp:
        server = SecantusServer(Path(tmp) / "db")
        server.start()
        try:
            print(asyncio.run(measure(server.uri, checks=args.checks)))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
