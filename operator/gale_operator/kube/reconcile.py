"""One level-based reconcile pass: bring every child in line, then report status.

Called the same way whether a spec changed, a child changed or a timer fired, so a missed
event is only ever a delay. A problem (bad reference, API failure) stops the pass and is
reported in the status; nothing already created is deleted because of it.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from gale_operator.core import conditions, kinds
from gale_operator.core.diff import merge_patch
from gale_operator.core.naming import Owner
from gale_operator.core.plan import Plan, plan_pass
from gale_operator.core.rollout import report_rollout
from gale_operator.core.spec import MicroserviceSpec, SpecError
from gale_operator.core.status import Problem, desired_status
from gale_operator.core.tls_status import with_tls_status
from gale_operator.kube.apply import Action, Applied, ChildConflict, apply_child
from gale_operator.kube.client import ApiError, KubeClient
from gale_operator.kube.handover import hand_back_replicas
from gale_operator.kube.tls import TLSOutcome, reconcile_tls


@dataclasses.dataclass(frozen=True)
class Outcome:
    applied: tuple[Applied, ...]
    problem: Problem | None
    status: Mapping[str, Any]
    #: Worth a Warning Event though the pass went through (e.g. a rollout rolled back).
    warnings: tuple[Problem, ...] = ()
    #: The count written into spec.replicas as autoscaling was turned off.
    handed_back: int | None = None
    #: Whether the status now stored is ``status`` (written by this pass, or already so).
    status_stored: bool = False


def owner_of(body: Mapping[str, Any]) -> Owner:
    meta = body["metadata"]
    return Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


async def check_references(client: KubeClient, spec: MicroserviceSpec, *, owner: Owner) -> None:
    """Raise a :class:`Problem` if the MongoDB Secret or its key is missing."""
    ref = spec.mongodb.uri_secret
    secret = await client.get(kinds.SECRET, namespace=owner.namespace, name=ref.name)
    if secret is None:
        raise ReferenceProblem(
            "SecretNotFound",
            f"Secret {owner.namespace}/{ref.name} (spec.mongodb.uriSecretRef) does not exist",
        )
    data = secret.get("data") or {}
    if not data.get(ref.key):
        raise ReferenceProblem(
            "SecretKeyNotFound",
            f"Secret {owner.namespace}/{ref.name} has no non-empty key {ref.key!r} "
            "(spec.mongodb.uriSecretRef.key)",
        )


class ReferenceProblem(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(reason, message)


async def reconcile(
    client: KubeClient,
    body: Mapping[str, Any],
    *,
    observed: Mapping[kinds.Kind, Mapping[str, Any] | None],
    service_monitor_available: bool,
    now: datetime.datetime,
    stored_status: Mapping[str, Any] | None = None,
) -> Outcome:
    """Apply the desired children in order, then patch the status if it changed.

    ``stored_status`` is what this operator last wrote, when the watched ``body`` may not
    show it yet: the difference is taken against it, so a lagging watch never makes a pass
    write the same status again.
    """
    owner = owner_of(body)
    generation = int(body["metadata"].get("generation", 1))
    current: Mapping[str, Any] = (
        stored_status if stored_status is not None else body.get("status") or {}
    )
    applied: list[Applied] = []
    problem: Problem | None = None
    spec: MicroserviceSpec | None = None
    tls: TLSOutcome | None = None
    plan: Plan | None = None
    handed_back: int | None = None
    try:
        # The spec to render: the asked release or the restored one, replicas handed back.
        plan = plan_pass(
            body.get("spec") or {},
            owner=owner,
            generation=generation,
            observed=observed,
            service_monitor_available=service_monitor_available,
            now=now,
            reported_rollout=current.get("rollout"),
        )
        spec = plan.spec
        await check_references(client, spec, owner=owner)
        # Before the Deployment: its pods mount the Secret this creates.
        tls = await reconcile_tls(
            client, spec, owner=owner, previous_tls=current.get("tls"), now=now
        )
        applied.extend(tls.applied)
        if plan.write_spec_replicas is not None and await hand_back_replicas(
            client, body, replicas=plan.write_spec_replicas
        ):
            handed_back = plan.write_spec_replicas
        for kind, manifest in plan.objects.items():
            name = manifest["metadata"]["name"] if manifest else _child_name(kind, owner)
            applied.append(
                await apply_child(
                    client,
                    kind,
                    owner=owner,
                    name=name,
                    desired=manifest,
                    observed=observed.get(kind),
                )
            )
    except SpecError as exc:
        problem = Problem("InvalidSpec", str(exc))
    except ReferenceProblem as exc:
        problem = exc.problem
    except ChildConflict as exc:
        problem = Problem("ChildConflict", str(exc))
    except ApiError as exc:
        problem = Problem("ApplyFailed", f"API request failed: {exc}")

    if problem is None and tls is not None and tls.report is not None and tls.report.degraded:
        problem = Problem(tls.report.reason, tls.report.message)
    deployment = _deployment_after(applied, observed)
    status: Mapping[str, Any] = current
    if spec is not None:
        rollout = (
            report_rollout(plan.rollout, deployment, previous=status.get("rollout"))
            if plan is not None
            else None
        )
        status = desired_status(
            spec,
            owner=owner,
            generation=generation,
            deployment=deployment,
            previous=status,
            problem=problem,
            now=now,
            overrides=rollout.conditions if rollout else (),
        )
        if rollout is not None:
            status["rollout"] = rollout.status
        if tls is not None:
            status = with_tls_status(
                status,
                tls.report,
                previous=current,
                generation=generation,
                now=now,
            )
    else:
        status = _problem_only_status(status, problem, generation=generation, now=now)
    stored = False
    try:
        await write_status(client, owner=owner, previous=current, status=status)
        stored = True
    except ApiError as exc:
        # What the pass did still happened: it keeps its Events; the next pass (soon, with
        # backoff) writes the status again, since the stored one still differs.
        problem = problem or Problem("StatusWriteFailed", f"API request failed: {exc}")
    warning = plan.rollout.warning if plan is not None else None
    return Outcome(
        tuple(applied),
        problem,
        status,
        warnings=(warning,) if warning is not None else (),
        handed_back=handed_back,
        status_stored=stored,
    )


async def write_status(
    client: KubeClient, *, owner: Owner, previous: Mapping[str, Any], status: Mapping[str, Any]
) -> bool:
    """Patch only the status fields that differ; no request at all when none does."""
    patch = merge_patch(status, previous)
    if not patch:
        return False
    for attempt in (1, 2):  # a merge patch names no resourceVersion: a 409 is worth one retry
        try:
            await client.patch(
                kinds.MICROSERVICE,
                namespace=owner.namespace,
                name=owner.name,
                patch={"status": patch},
                subresource="status",
            )
        except ApiError as exc:
            if exc.status != 409 or attempt == 2:
                raise
        else:
            break
    return True


def _child_name(kind: kinds.Kind, owner: Owner) -> str:
    return owner.config_map_name if kind == kinds.CONFIGMAP else owner.name


def _deployment_after(
    applied: list[Applied], observed: Mapping[kinds.Kind, Mapping[str, Any] | None]
) -> Mapping[str, Any] | None:
    for result in applied:
        if result.kind == kinds.DEPLOYMENT and result.action is not Action.DELETED:
            return result.obj
    return observed.get(kinds.DEPLOYMENT)


def _problem_only_status(
    previous: Mapping[str, Any],
    problem: Problem | None,
    *,
    generation: int,
    now: datetime.datetime,
) -> dict[str, Any]:
    cond = conditions.Condition(
        conditions.DEGRADED,
        conditions.Status.TRUE,
        problem.reason if problem else "InvalidSpec",
        problem.message if problem else "",
    )
    return {
        **previous,
        "observedGeneration": generation,
        "conditions": conditions.upsert_all(
            previous.get("conditions") or conditions.initial(generation=generation, now=now),
            [cond],
            generation=generation,
            now=now,
        ),
    }
