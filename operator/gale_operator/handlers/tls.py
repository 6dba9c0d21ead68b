"""kopf glue for TLS: wake the reconcile when a certificate needs it, publish expiry, clean up.

The certificates themselves are issued inside the reconcile pass (``kube.tls``), so one
writer owns the status. The timer exists because certificates age without any event: it
wakes the pass once renewal is due instead of waiting for the next periodic tick.
"""

from __future__ import annotations

from typing import Any

import kopf

from gale_operator import metrics
from gale_operator.core import kinds
from gale_operator.core.naming import is_owned_by
from gale_operator.core.tls_status import expiry_timestamp, needs_attention
from gale_operator.handlers.runtime import runtime_of
from gale_operator.kube.reconcile import owner_of

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


@kopf.on.event(MS.group, MS.version, MS.plural, id="tls_expiry_metric")
async def publish_expiry(
    type: str | None, namespace: str | None, name: str, status: kopf.Status, **_: Any
) -> None:
    """Keep ``gale_operator_certificate_expiry_timestamp_seconds`` in step with the status."""
    labels = {"namespace": namespace or "", "name": name}
    expiry = expiry_timestamp(status) if type != "DELETED" else None
    if expiry is not None:
        metrics.CERTIFICATE_EXPIRY.labels(**labels).set(expiry)
        return
    published = {
        (sample.labels["namespace"], sample.labels["name"])
        for family in metrics.CERTIFICATE_EXPIRY.collect()
        for sample in family.samples
    }
    if (labels["namespace"], name) in published:
        metrics.CERTIFICATE_EXPIRY.remove(labels["namespace"], name)


@kopf.on.delete(MS.group, MS.version, MS.plural, id="tls_cleanup")
async def tls_cleanup(body: kopf.Body, memo: Any, logger: kopf.Logger, **_: Any) -> None:
    """Delete the serving Secret and Certificate we own; the namespace CA stays for the others."""
    runtime = runtime_of(memo)
    owner = owner_of(body)
    for kind, child in ((kinds.SECRET, owner.tls_secret_name), (kinds.CERTIFICATE, owner.name)):
        if kind == kinds.CERTIFICATE and not await runtime.serves(kind):
            continue
        found = await runtime.api.get(kind, namespace=owner.namespace, name=child)
        if found is not None and is_owned_by(found, owner):
            await runtime.api.delete(kind, namespace=owner.namespace, name=child)
            logger.info("Deleted %s %s.", kind.kind, child)
