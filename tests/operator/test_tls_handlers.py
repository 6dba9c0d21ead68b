"""TLS in the handlers as functions: when the loop wakes itself for TLS, the expiry gauge."""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest
from gale_operator import metrics
from gale_operator.handlers import tls

publish_expiry = tls.publish_expiry
SELF_SIGNED = {"tls": {"mode": "selfSigned"}}

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
ISSUED = {
    "conditions": [{"type": "TLSReady", "status": "True", "reason": "Issued"}],
    "tls": {
        "secretName": "api-tls",
        "notAfter": "2026-05-30T12:00:00Z",
        "renewalTime": "2026-05-15T12:00:00Z",
    },
}


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("now", "wait"),
    [
        (NOW, (at("2026-05-15T12:00:00Z") - NOW).total_seconds()),  # sleeps until renewal
        (at("2026-05-15T11:59:59Z"), 1.0),
        (at("2026-05-15T12:00:00Z"), tls.CHECK_INTERVAL_SECONDS),  # due: polled, never spun
        (at("2026-06-01T00:00:00Z"), tls.CHECK_INTERVAL_SECONDS),
    ],
)
def test_the_loop_wakes_itself_for_the_renewal(now: datetime.datetime, wait: float) -> None:
    assert tls.tls_wait(SELF_SIGNED, ISSUED, now=now) == wait


def test_tls_not_ready_is_polled_and_tls_off_never_wakes_the_loop() -> None:
    pending = {"conditions": [{"type": "TLSReady", "status": "False", "reason": "Pending"}]}
    assert tls.tls_wait(SELF_SIGNED, pending, now=NOW) == tls.CHECK_INTERVAL_SECONDS
    assert tls.tls_wait(SELF_SIGNED, {}, now=NOW) == tls.CHECK_INTERVAL_SECONDS
    assert tls.tls_wait({}, pending, now=NOW) == math.inf
    assert tls.tls_wait({"tls": {"mode": "disabled"}}, ISSUED, now=NOW) == math.inf


def _gauge(namespace: str, name: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(
        "gale_operator_certificate_expiry_timestamp_seconds",
        {"namespace": namespace, "name": name},
    )


async def test_the_expiry_gauge_follows_the_status_and_goes_with_the_object() -> None:
    expected = datetime.datetime(2026, 5, 30, 12, tzinfo=datetime.UTC).timestamp()
    event: dict[str, Any] = {"namespace": "shop", "name": "gauge-test"}
    await publish_expiry(type="ADDED", status=ISSUED, **event)
    assert _gauge("shop", "gauge-test") == expected
    await publish_expiry(type="MODIFIED", status={"conditions": []}, **event)
    assert _gauge("shop", "gauge-test") is None, "TLS turned off: no stale expiry"
    await publish_expiry(type="MODIFIED", status=ISSUED, **event)
    await publish_expiry(type="DELETED", status=ISSUED, **event)
    assert _gauge("shop", "gauge-test") is None
    await publish_expiry(type="DELETED", status={}, **event)  # nothing to remove: no error
