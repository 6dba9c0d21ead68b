"""TLS in the handlers: when the reconcile loop must pass for a certificate, publish expiry.

The certificates themselves are issued inside the reconcile pass (``kube.tls``), so one
writer owns the status. Certificates age without any event: the loop sleeps no longer than
:func:`tls_wait` says, so renewal happens when due, not at the next periodic tick. The
serving Secret and Certificate carry ownerReferences: the garbage collector removes them
with their Microservice (and keeps them when it is deleted with ``--cascade=orphan``).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

import kopf

from gale_operator import metrics
from gale_operator.core.tls_status import expiry_timestamp, needs_attention, renewal_at

#: How often a Microservice whose TLS needs attention (not Ready, or renewal due) is passed
#: again; renewal windows are hours to days.
CHECK_INTERVAL_SECONDS = 30.0


def tls_wait(
    spec: Mapping[str, Any], status: Mapping[str, Any], *, now: datetime.datetime
) -> float:
    """How long the reconcile loop may sleep before TLS needs a pass (``inf``: not at all).

    Certificates age without any event, so the loop wakes itself at the renewal time (a
    kopf timer per object would cost a filter on every Microservice event), and polls
    every :data:`CHECK_INTERVAL_SECONDS` while TLS is not Ready or renewal is due.
    """
    if (spec.get("tls") or {}).get("mode", "disabled") == "disabled":
        return math.inf
    if needs_attention(status, now=now):
        return CHECK_INTERVAL_SECONDS
    renewal = renewal_at(status)
    return math.inf if renewal is None else max(0.0, (renewal - now).total_seconds())


async def publish_expiry(
    type: str | None, namespace: str | None, name: str, status: kopf.Status, **_: Any
) -> None:
    """Keep ``gale_operator_certificate_expiry_timestamp_seconds`` in step with the status.

    Called from the Microservice's one event handler (``handlers.microservice``): a second
    handler for the same events would double kopf's per-event work.
    """
    expiry = expiry_timestamp(status) if type != "DELETED" else None
    metrics.set_certificate_expiry((namespace or "", name), expiry)
