"""kopf glue for TLS: wake the reconcile when a certificate needs it, publish expiry.

The certificates themselves are issued inside the reconcile pass (``kube.tls``), so one
writer owns the status. The timer exists because certificates age without any event: it
wakes the pass once renewal is due instead of waiting for the next periodic tick. The
serving Secret and Certificate carry ownerReferences: the garbage collector removes them
with their Microservice (and keeps them when it is deleted with ``--cascade=orphan``).
"""

from __future__ import annotations

from typing import Any

import kopf

from gale_operator import metrics
from gale_operator.core import kinds
from gale_operator.core.tls_status import expiry_timestamp, needs_attention
from gale_operator.handlers.runtime import runtime_of

MS = kinds.MICROSERVICE
#: How often each TLS-enabled Microservice is checked; renewal windows are hours to days.
CHECK_INTERVAL_SECONDS = 30.0


def _tls_enabled(spec: kopf.Spec, **_: Any) -> bool:
    return bool((spec.get("tls") or {}).get("mode", "disabled") != "disabled")


@kopf.timer(
    MS.group,
    MS.version,
    MS.plural,
    id="tls_check",
    interval=CHECK_INTERVAL_SECONDS,
    when=_tls_enabled,
)
async def tls_check(
    namespace: str | None, name: str, status: kopf.Status, memo: Any, **_: Any
) -> None:
    runtime = runtime_of(memo)
    if needs_attention(status, now=runtime.clock()):
        runtime.wake((namespace or "", name))


async def publish_expiry(
    type: str | None, namespace: str | None, name: str, status: kopf.Status, **_: Any
) -> None:
    """Keep ``gale_operator_certificate_expiry_timestamp_seconds`` in step with the status.

    Called from the Microservice's one event handler (``handlers.microservice``): a second
    handler for the same events would double kopf's per-event work.
    """
    expiry = expiry_timestamp(status) if type != "DELETED" else None
    metrics.set_certificate_expiry((namespace or "", name), expiry)
