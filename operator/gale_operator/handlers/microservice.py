"""The Microservice handlers: one reconcile loop per object, a wake-up on spec change, cleanup.

A per-object daemon (rather than create/update handlers) makes the reconcile level-based:
the same pass runs on every wake-up and every tick, so drift and missed events heal by
themselves; errors back off inside the loop instead of failing a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections.abc import Mapping
from typing import Any

import kopf

from gale_operator import events, metrics
from gale_operator.core import conditions, kinds
from gale_operator.core.status import Problem
from gale_operator.handlers.children import INDEXED_KINDS, observed_child
from gale_operator.handlers.runtime import Runtime, runtime_of
from gale_operator.kube.client import KubeClient
from gale_operator.kube.reconcile import Outcome, owner_of, reconcile, write_status

MS = kinds.MICROSERVICE
#: Retry delays while a problem persists; the last one repeats (capped by the interval).
BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


@kopf.on.startup()
async def connect(memo: Any, **_: Any) -> None:
    runtime_of(memo).client = await KubeClient.connect()


@kopf.on.cleanup()
async def disconnect(memo: Any, **_: Any) -> None:
    runtime = runtime_of(memo)
    if runtime.client is not None:
        await runtime.client.close()


@kopf.on.update(MS.group, MS.version, MS.plural, id="wake_on_spec", field="spec")
async def wake_on_spec(namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    runtime_of(memo).wake((namespace or "", name))


@kopf.daemon(MS.group, MS.version, MS.plural, id="reconcile", cancellation_timeout=1.0)
async def reconcile_loop(
    stopped: kopf.DaemonStopped, body: kopf.Body, memo: Any, logger: kopf.Logger, **kwargs: Any
) -> None:
    runtime = runtime_of(memo)
    key = (body["metadata"]["namespace"], body["metadata"]["name"])
    wakeup = runtime.wakeup(key)
    failures = 0
    previous: Problem | None = None
    await _first_visit(runtime, body)
    while not stopped:
        wakeup.clear()
        problem = await _reconcile_once(runtime, body, kwargs, logger, previous=previous)
        failures = failures + 1 if problem is not None else 0
        previous = problem
        delay = runtime.reconcile_interval
        if failures:
            delay = min(delay, BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=delay)


async def _first_visit(runtime: Runtime, body: Mapping[str, Any]) -> None:
    """Report Unknown conditions before the first pass does any work."""
    status = body.get("status") or {}
    if status.get("conditions"):
        return
    generation = int(body["metadata"].get("generation", 1))
    now = datetime.datetime.now(datetime.UTC)
    initial = {"conditions": conditions.initial(generation=generation, now=now)}
    await write_status(runtime.api, owner=owner_of(body), previous=status, status=initial)


async def _reconcile_once(
    runtime: Runtime,
    body: kopf.Body,
    indexes: Mapping[str, Any],
    logger: kopf.Logger,
    *,
    previous: Problem | None,
) -> Problem | None:
    owner = owner_of(body)
    key = (owner.namespace, owner.name)
    started = time.perf_counter()
    try:
        observed: dict[kinds.Kind, Any] = runtime.own_writes.overlay(
            key, {kind: observed_child(indexes, kind, key) for kind in INDEXED_KINDS}
        )
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
        )
        runtime.own_writes.record(key, outcome.applied)
    except Exception as exc:
        metrics.RECONCILES.labels(handler="reconcile", outcome="error").inc()
        logger.exception("Reconcile failed unexpectedly; retrying with backoff.")
        kopf.exception(body, reason="ReconcileFailed", message="Reconcile failed:", exc=exc)
        return Problem("ReconcileFailed", str(exc))
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
    return outcome.problem


@kopf.on.delete(MS.group, MS.version, MS.plural, id="cleanup")
async def cleanup(body: kopf.Body, memo: Any, logger: kopf.Logger, **kwargs: Any) -> None:
    """Delete the children explicitly, then let kopf release the finalizer.

    Garbage collection would remove owned children anyway; deleting them here makes the
    cleanup independent of it and leaves nothing behind when ownership was lost.
    """
    runtime = runtime_of(memo)
    owner = owner_of(body)
    key = (owner.namespace, owner.name)
    try:
        for kind in reversed(INDEXED_KINDS):
            child = observed_child(kwargs, kind, key)
            if child is not None:
                name = child["metadata"]["name"]
                await runtime.api.delete(kind, namespace=owner.namespace, name=name)
        if await runtime.serves(kinds.SERVICE_MONITOR):
            await runtime.api.delete(
                kinds.SERVICE_MONITOR, namespace=owner.namespace, name=owner.name
            )
    except Exception:
        metrics.RECONCILES.labels(handler="cleanup", outcome="error").inc()
        raise
    metrics.RECONCILES.labels(handler="cleanup", outcome="success").inc()
    metrics.forget(key)
    runtime.wakeups.pop(key, None)
    runtime.own_writes.forget(key)
    logger.info("Deleted the children of %s/%s.", owner.namespace, owner.name)
