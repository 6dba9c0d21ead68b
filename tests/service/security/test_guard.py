"""The guard's refusals: problem+json shapes, headers, and the rejection counter."""

from __future__ import annotations

import pytest
from gale_service.problems import Problem
from gale_service.security.guard import Guard
from gale_service.settings import load_settings
from gale_service.telemetry.metrics import REGISTRY


def guard(**overrides: object) -> Guard:
    settings = load_settings(
        allowed_hosts=["gale.test"],
        rate_limit_ip_burst=2,
        rate_limit_ip_per_second=1.0,
        max_in_flight_requests=4,
        **overrides,
    )
    built = Guard.from_settings(settings)
    built.set_clock(lambda: 50.0)
    return built


def rejected(reason: str) -> float:
    value = REGISTRY.get_sample_value("gale_rejected_requests_total", {"reason": reason})
    return value or 0.0


def test_an_unknown_host_is_a_400_naming_the_setting() -> None:
    with pytest.raises(Problem) as refused:
        guard().check_host("attacker.test:8888")
    assert refused.value.status_code == 400
    assert refused.value.type.endswith("/host-not-allowed")
    assert "GALE_ALLOWED_HOSTS" in refused.value.detail
    guard().check_host("gale.test:8888")


def test_load_is_shed_above_the_limit_and_counted() -> None:
    before = rejected("shed")
    guard().check_load(4)
    with pytest.raises(Problem) as shed:
        guard().check_load(5)
    assert shed.value.status_code == 503
    assert shed.value.headers["Retry-After"] == "1"
    assert rejected("shed") == before + 1


def test_an_empty_bucket_is_a_429_with_retry_after_and_counted() -> None:
    checks = guard()
    before = rejected("rate_limited")
    admitted = checks.check_rate(checks.per_ip, "203.0.113.9")
    assert admitted["RateLimit"].startswith('"ip";r=1;')
    checks.check_rate(checks.per_ip, "203.0.113.9")
    with pytest.raises(Problem) as limited:
        checks.check_rate(checks.per_ip, "203.0.113.9")
    assert limited.value.status_code == 429
    assert limited.value.headers["Retry-After"] == "1"
    assert "retry after 1 s" in limited.value.detail
    assert rejected("rate_limited") == before + 1
    checks.check_rate(checks.per_ip, "198.51.100.1")
