"""The Microservice handlers: one reconcile loop per object, woken on spec change; bookkeeping.

A per-object daemon (rather than create/update handlers) makes the reconcile level-based:
the same pass runs on every wake-up and every tick, so drift and missed events heal by
themselves; errors back off inside the loop (capped, jittered) instead of failing a
handler, so one transient error never parks an object for kopf's minute.

No create/update/delete handlers: kopf would then keep a diff-base annotation on every
object (one more write each), and deleting the children is the garbage collector's job,
through their ownerReferences, which is also what makes ``--cascade=orphan`` keep them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

import kopf

from gale_operator import events, metrics
from gale_operator.core import kinds
from gale_operator.core.status import Problem
from gale_operator.handlers.children import INDEXED_KINDS, indexed_children
from gale_operator.handlers.runtime import Runtime, runtime_of
from gale_operator.handlers.tls import publish_expiry, tls_wait
from gale_operator.kube.client import KubeClient
from gale_operator.kube.reconcile import Outcome, owner_of, reconcile

MS = kinds.MICROSERVICE
#: Retry delays while a problem persists; the last one repeats (capped by the interval).
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
#: How long a woken loop lets further events arrive before it runs the pass.
SETTLE_SECONDS = 0.2


@kopf.on.startup()
async def connect(memo: Any, **_: Any) -> None:
    runtime = runtime_of(memo)
    runtime.client = await KubeClient.connect(
        cached=(kinds.SECRET,), cache_seconds=runtime.reconcile_interval
    )


@kopf.on.cleanup()
async def disconnect(memo: Any, **_: Any) -> None:
    runtime = runtime_of(memo)
    await runtime.close()


@kopf.on.event(MS.group, MS.version, MS.plural, id="microservice_event")
async def on_event(
    type: str | None,
    body: kopf.Body,
    status: kopf.Status,
    memo: Any,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Wake the loop on a new generation (a spec change); forget the object once gone;
    publish its certificate's expiry. One handler: kopf's cost is per handler and event."""
    runtime = runtime_of(memo)
    meta = body.get("metadata") or {}
    key = (meta.get("namespace") or "", meta.get("name") or "")
    await publish_expiry(type=type, namespace=key[0], name=key[1], status=status)
    if type is None:  # a listing: its children's watches may have missed deletions too
        runtime.relisting(INDEXED_KINDS)
    if type == "DELETED":
        metrics.forget(key)
        runtime.forget(key)
        logger.info("Deleted; the garbage collector removes the children it owned.")
        return
    if runtime.generations.get(key) not in {None, meta.get("generation")}:
        runtime.wake(key)


@kopf.daemon(MS.group, MS.version, MS.plural, id="reconcile", cancellation_timeout=1.0)
async def reconcile_loop(
    stopped: kopf.DaemonStopped, body: kopf.Body, memo: Any, logger: kopf.Logger, **kwargs: Any
) -> None:
    runtime = runtime_of(memo)
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    wakeup = runtime.wakeup(key)
    failures = 0
    previous: Problem | None = None
    periodic = False
    while not stopped and not body["metadata"].get("deletionTimestamp"):
        wakeup.clear()
        runtime.only_echoes(key)  # what woke this pass is handled by it
        runtime.generations[key] = body["metadata"].get("generation")
        problem, status = await _reconcile_once(
            runtime, body, kwargs, logger, previous=previous, periodic=periodic
        )
        failures = failures + 1 if problem is not None else 0
        previous = problem
        delay = runtime.reconcile_interval
        if failures:
            delay = retry_delay(failures, cap=delay)
        if status is not None:
            delay = min(delay, tls_wait(body.get("spec") or {}, status, now=runtime.clock()))
        periodic = await _wait(runtime, key, wakeup, delay)


async def _wait(
    runtime: Runtime, key: tuple[str, str], wakeup: asyncio.Event, delay: float
) -> bool:
    """Wait for a wake-up that calls for a pass, or ``delay``; ``True`` if the time ran out.

    A pass's own writes come back as a burst of watch events: the loop lets the burst settle,
    then passes only if something in it was not simply its own write.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + delay
    while True:
        try:
            await asyncio.wait_for(wakeup.wait(), timeout=max(0.0, deadline - loop.time()))
        except TimeoutError:
            return True
        await asyncio.sleep(SETTLE_SECONDS)
        if not runtime.only_echoes(key):
            return False
        wakeup.clear()


def retry_delay(failures: int, *, cap: float) -> float:
    """The wait after the n-th failure in a row: the backoff step, jittered by up to 25 %."""
    step = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1]
    return min(cap, step) * random.uniform(0.75, 1.0)  # noqa: S311 - jitter, not secrets


async def _reconcile_once(
    runtime: Runtime,
    body: kopf.Body,
    indexes: Mapping[str, Any],
    logger: kopf.Logger,
    *,
    previous: Problem | None,
    periodic: bool,
) -> tuple[Problem | None, Mapping[str, Any] | None]:
    """The pass's problem (``None``: all went through) and the status it reported."""
    owner = owner_of(body)
    key = (owner.namespace, owner.name)
    started = time.perf_counter()
    try:
        indexed = {kind: indexed_children(indexes, kind, key) for kind in INDEXED_KINDS}
        verified = await runtime.vanished.verify(key, indexed, periodic=periodic)
        observed: dict[kinds.Kind, Any] = runtime.own_writes.overlay(key, verified)
        monitors = await runtime.serves(kinds.SERVICE_MONITOR)
        if monitors:
            observed[kinds.SERVICE_MONITOR] = await runtime.api.get(
                kinds.SERVICE_MONITOR, namespace=owner.namespace, name=owner.name
            )
        outcome: Outcome = await reconcile(
            runtime.api,
            body,
            observed=observed,
            service_monitor_available=monitors,
            now=runtime.clock(),
            stored_status=runtime.stored_status(key),
        )
        runtime.own_writes.record(key, outcome.applied)
        runtime.record_status(key, outcome.status if outcome.status_stored else None)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        metrics.RECONCILES.labels(handler="reconcile", outcome="error").inc()
        logger.exception("Reconcile failed unexpectedly; retrying with backoff.")
        kopf.exception(body, reason="ReconcileFailed", message="Reconcile failed:", exc=exc)
        return Problem("ReconcileFailed", str(exc)), None
    finally:
        elapsed = time.perf_counter() - started
        metrics.RECONCILE_DURATION.labels(handler="reconcile").observe(elapsed)
    for notice in events.notices(outcome, previous_problem=previous):
        kopf.event(body, type=notice.type, reason=notice.reason, message=notice.message)
    if outcome.problem is not None:
        logger.warning("%s: %s", outcome.problem.reason, outcome.problem.message)
    outcome_label = "success" if outcome.problem is None else "error"
    metrics.RECONCILES.labels(handler="reconcile", outcome=outcome_label).inc()
    metrics.record_conditions(key, outcome.status.get("conditions") or [])
    return outcome.problem, outcome.status
