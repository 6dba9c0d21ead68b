"""The TLS kopf handlers as functions: the timer's wake-up decision and the expiry gauge."""

from __future__ import annotations

import datetime
from typing import Any

import kopf
from gale_operator import metrics
from gale_operator.handlers import tls
from gale_operator.handlers.runtime import Runtime

# kopf's decorators retype the functions as its handler protocols; called directly here.
tls_check: Any = tls.tls_check
publish_expiry: Any = tls.publish_expiry

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
ISSUED = {
    "conditions": [{"type": "TLSReady", "status": "True", "reason": "Issued"}],
    "tls": {
        "secretName": "api-tls",
        "notAfter": "2026-05-30T12:00:00Z",
        "renewalTime": "2026-05-15T12:00:00Z",
    },
}


class Clock:
    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now


async def test_the_timer_wakes_the_reconcile_once_the_clock_reaches_the_renewal_time() -> None:
    clock = Clock(NOW)
    runtime = Runtime(reconcile_interval=3600, clock=clock)
    wakeup = runtime.wakeup(("shop", "api"))
    memo = kopf.Memo(runtime=runtime)
    await tls_check(namespace="shop", name="api", status=ISSUED, memo=memo)
    assert not wakeup.is_set()
    clock.now = datetime.datetime(2026, 5, 15, 12, 0, tzinfo=datetime.UTC)
    await tls_check(namespace="shop", name="api", status=ISSUED, memo=memo)
    assert wakeup.is_set()


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
