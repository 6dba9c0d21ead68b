"""Rate limits (429 and recovery), load shedding (503), body limit (413), client IPs."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import pytest

from tests.mongo import SecantusServer
from tests.service.harness import ADMIN, LiveService, live_service


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited(mongo_server: SecantusServer) -> AsyncIterator[tuple[LiveService, FakeClock]]:
    async with live_service(
        mongo_server.uri,
        rate_limit_ip_burst=3,
        rate_limit_ip_per_second=1.0,
        rate_limit_user_burst=2,
        rate_limit_user_per_second=0.5,
        rate_limit_login_burst=2,
        rate_limit_login_per_second=0.1,
        trusted_proxies=("127.0.0.1/32",),
    ) as live:
        clock = FakeClock()
        live.services.guard.set_clock(clock)
        yield live, clock


def forwarded(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def test_429_with_retry_after_then_recovery(limited: tuple[LiveService, FakeClock]) -> None:
    live, clock = limited
    headers = {**forwarded("203.0.113.7")}
    first = await live.fetch("/api/v1/items", headers=headers, auth=False)
    assert first.code == 401  # counted, then refused for lack of credentials
    assert first.headers.get("RateLimit") is None or "r=" in first.headers["RateLimit"]
    statuses = [
        (await live.fetch("/openapi.json", headers=headers, auth=False)).code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    refused = await live.fetch("/openapi.json", headers=headers, auth=False)
    assert refused.code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit-Policy"] == '"ip";q=3;w=3'
    assert refused.headers["RateLimit"].startswith('"ip";r=0;')
    assert json.loads(refused.body)["type"].endswith("/rate-limited")

    other = await live.fetch("/openapi.json", headers=forwarded("203.0.113.8"), auth=False)
    assert other.code == 200  # buckets are per client IP

    clock.now += 1.0
    recovered = await live.fetch("/openapi.json", headers=headers, auth=False)
    assert recovered.code == 200
    assert recovered.headers["RateLimit"] == '"ip";r=0;t=3'


async def test_per_user_bucket_spans_addresses(limited: tuple[LiveService, FakeClock]) -> None:
    live, clock = limited
    codes = [
        (await live.fetch("/api/v1/items", headers=forwarded(f"198.51.100.{n}"))).code
        for n in range(3)
    ]
    assert codes == [200, 200, 429]
    clock.now += 2.0
    assert (await live.fetch("/api/v1/items", headers=forwarded("198.51.100.9"))).code == 200


async def test_login_has_a_stricter_bucket(limited: tuple[LiveService, FakeClock]) -> None:
    live, clock = limited
    codes = []
    for n in range(3):
        clock.now += 1.5  # far slower than the IP limit, still too fast for logins
        response = await live.request_token(ADMIN, f"guess {n}", headers=forwarded("192.0.2.1"))
        codes.append(response.code)
    assert codes == [401, 401, 429]
    assert int(response.headers["Retry-After"]) >= 5


async def test_spoofed_forwarded_for_is_ignored_from_untrusted_peers(
    mongo_server: SecantusServer,
) -> None:
    async with live_service(mongo_server.uri, rate_limit_ip_burst=2) as live:
        live.services.guard.set_clock(FakeClock())
        codes = [
            (await live.fetch("/openapi.json", headers=forwarded(f"10.0.0.{n}"), auth=False)).code
            for n in range(3)
        ]
        assert codes == [200, 200, 429]


async def test_load_shedding_answers_503_and_spares_probes(mongo_server: SecantusServer) -> None:
    async with live_service(mongo_server.uri, max_in_flight_requests=2) as live:
        inflight = live.services.inflight
        inflight.enter()  # one slow request still being served: this one makes two, the limit
        try:
            assert (await live.fetch("/api/v1/items")).code == 200
        finally:
            inflight.leave()
        inflight.enter()
        inflight.enter()  # two slow requests still being served
        try:
            shed = await live.fetch("/api/v1/items")
            assert shed.code == 503
            assert shed.headers["Retry-After"] == "1"
            assert json.loads(shed.body)["type"].endswith("/overloaded")
            assert (await live.fetch("/livez")).code == 200
        finally:
            inflight.leave()
            inflight.leave()
        assert (await live.fetch("/api/v1/items")).code == 200


async def test_oversized_body_is_413(mongo_server: SecantusServer) -> None:
    async with live_service(mongo_server.uri, max_body_bytes=2048) as live:
        response = await live.fetch(
            "/api/v1/items", method="POST", json_body={"name": "x", "description": "y" * 4000}
        )
        assert response.code == 413
        assert response.headers["Content-Type"].startswith("application/problem+json")


async def test_gzip_bodies_are_decoded_and_capped_once_decoded(
    mongo_server: SecantusServer,
) -> None:
    async with live_service(mongo_server.uri, max_body_bytes=2048) as live:
        gzipped = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        small = gzip.compress(json.dumps({"name": "zipped", "description": "d"}).encode())
        created = await live.fetch("/api/v1/items", method="POST", body=small, headers=gzipped)
        assert created.code == 201, created.body
        assert json.loads(created.body)["name"] == "zipped"
        # 40 bytes on the wire, 4 KB once decoded: over the limit the handler sees.
        bomb = gzip.compress(json.dumps({"name": "x", "description": "y" * 4000}).encode())
        assert len(bomb) < 2048
        refused = await live.fetch("/api/v1/items", method="POST", body=bomb, headers=gzipped)
        assert refused.code == 413
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        broken = await live.fetch(
            "/api/v1/items", method="POST", body=small[:-6] + b"broken", headers=gzipped
        )
        assert broken.code == 400
        assert broken.headers["Content-Type"].startswith("application/problem+json")
        assert live.services.inflight.count == 0
