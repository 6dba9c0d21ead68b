"""Rollouts: which release the Deployment should run, whether its rollout failed, what to restore.

The Deployment controller rolls a :mod:`~gale_operator.core.release` out; this module reads
its verdict (``Progressing`` with reason ``ProgressDeadlineExceeded``) and answers a failed
attempt by rendering the last release that was Ready instead of the one asked for, until a
later spec change asks for something new.

The memory this needs (the release the template was rendered from, the last Ready release,
the failed attempt) lives in annotations on the Deployment, written in the same patch as the
template they describe. A decision therefore never pairs a template with an older record of
it, which the Microservice's own status, arriving through a separate watch, cannot promise.

The last Ready record is written lazily, with the next template change: until then the
release the Deployment runs *is* the last Ready one, as its complete rollout or the status
(``status.rollout.lastReadyTemplateHash`` naming exactly that template) shows. A release
becoming Ready therefore costs no Deployment write of its own. Only if the status is lost
while the Deployment is not complete does the memory fall back to the older record.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Mapping
from typing import Any

from gale_operator.core import conditions
from gale_operator.core.conditions import Condition, Status
from gale_operator.core.naming import Owner
from gale_operator.core.release import (
    FAILED_ANNOTATION,
    LAST_READY_ANNOTATION,
    RELEASE_ANNOTATION,
    FailedAttempt,
    Release,
    attempt_of,
    load_failed,
    load_release,
    release_of,
    with_release,
)
from gale_operator.core.spec import parse_spec
from gale_operator.core.status import Problem, read_rollout
from gale_operator.core.status import Rollout as DeploymentProgress

FAILED_REASON = "RolloutFailed"


class Phase(enum.StrEnum):
    PROGRESSING = "Progressing"
    COMPLETE = "Complete"
    PAUSED = "Paused"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


@dataclasses.dataclass(frozen=True)
class RolloutPlan:
    """What this reconcile pass renders, and the memory it writes back onto the Deployment."""

    spec: Mapping[str, Any]
    attempt: str
    asked: Release
    target: Release
    last_ready: Release | None
    failed: FailedAttempt | None
    paused: bool
    deadline_seconds: int
    newly_failed: bool

    @property
    def restoring(self) -> bool:
        return self.target.template_hash != self.asked.template_hash

    def annotations(self, observed: Mapping[str, Any] | None) -> dict[str, str | None]:
        """Deployment annotations; ``None`` removes a record the Deployment still carries.

        The last Ready record changes only with the template (see the module docstring):
        while the template stays, the Deployment keeps the record it has.
        """
        have = ((observed or {}).get("metadata") or {}).get("annotations") or {}
        running, _ = load_release(have.get(RELEASE_ANNOTATION))
        values = {
            RELEASE_ANNOTATION: self.target.dump(with_fields=True, attempt=self.attempt),
            LAST_READY_ANNOTATION: self.last_ready.dump(with_fields=True)
            if self.last_ready
            else None,
            FAILED_ANNOTATION: self.failed.dump() if self.failed else None,
        }
        if running is not None and running.template_hash == self.target.template_hash:
            values[LAST_READY_ANNOTATION] = have.get(LAST_READY_ANNOTATION)
        return {key: value for key, value in values.items() if value is not None or key in have}

    def failure_message(self, *, restore_stuck: bool = False) -> str:
        if self.failed is None:
            return ""
        what = f"{self.failed.version} (template {self.failed.template_hash})"
        head = f"The rollout of {what} made no progress within {self.deadline_seconds}s"
        if not self.restoring:
            tail = "; there is no earlier Ready version to restore"
        elif restore_stuck:
            tail = f"; the restored last Ready version {self.target} makes no progress either"
        else:
            tail = f"; restored the last Ready version {self.target}"
        return f"{head}{tail}. Change the spec to try again."

    @property
    def warning(self) -> Problem | None:
        """The Warning Event a newly failed rollout deserves (once, when it is detected)."""
        return Problem(FAILED_REASON, self.failure_message()) if self.newly_failed else None


def plan_rollout(
    raw_spec: Mapping[str, Any],
    *,
    owner: Owner,
    generation: int,
    deployment: Mapping[str, Any] | None,
    now: datetime.datetime,
    reported: Mapping[str, Any] | None = None,
) -> RolloutPlan:
    """Decide the release to render from the spec and the Deployment as observed before applying.

    A release becomes the last Ready one once the Deployment has rolled it out to at least
    one available pod; ``reported`` (the last ``status.rollout``) remembers that for the
    release the Deployment still runs. The asked release has failed when the Deployment,
    caught up with its template, reports the progress deadline exceeded for it; then the
    last Ready release (if any, and if it differs) is rendered until the spec changes other
    than by scaling.
    """
    spec = parse_spec(raw_spec)
    asked = release_of(raw_spec, owner=owner)
    attempt = attempt_of(raw_spec)
    notes = ((deployment or {}).get("metadata") or {}).get("annotations") or {}
    running, running_attempt = load_release(notes.get(RELEASE_ANNOTATION))
    last_ready, _ = load_release(notes.get(LAST_READY_ANNOTATION))
    failed = load_failed(notes.get(FAILED_ANNOTATION))
    if failed is not None and failed.attempt != attempt:
        failed = None  # a later spec change: a fresh attempt
    progress = read_rollout(spec, deployment) if deployment is not None else None
    # The Deployment's verdict is about this attempt only once it carries it: a retry that
    # changes no pod template (e.g. a longer deadline) must not inherit the last verdict.
    runs_asked = (
        running is not None
        and running.template_hash == asked.template_hash
        and running_attempt == attempt
    )
    rolled_out = progress is not None and progress.complete and progress.want > 0
    if running is not None and running.fields:  # a record from before fields were kept: none
        said_ready = (reported or {}).get("lastReadyTemplateHash") == running.template_hash
        if rolled_out or said_ready:
            last_ready = running
    if runs_asked and rolled_out:
        last_ready, failed = asked, None
    newly_failed = (
        failed is None
        and not spec.rollout.paused
        and progress is not None
        and runs_asked
        and progress.caught_up
        and progress.deadline_exceeded
        and (last_ready is None or last_ready.template_hash != asked.template_hash)
    )
    if newly_failed:
        failed = FailedAttempt(
            version=asked.version,
            template_hash=asked.template_hash,
            attempt=attempt,
            generation=generation,
            at=conditions.timestamp(now),
        )
    render, target = raw_spec, asked
    if failed is not None and last_ready is not None:
        restored_spec = with_release(raw_spec, last_ready)
        restored = release_of(restored_spec, owner=owner)
        if restored.template_hash != asked.template_hash:
            render, target = restored_spec, restored
    return RolloutPlan(
        spec=render,
        attempt=attempt,
        asked=asked,
        target=target,
        last_ready=last_ready,
        failed=failed,
        paused=spec.rollout.paused,
        deadline_seconds=spec.rollout.progress_deadline_seconds,
        newly_failed=newly_failed,
    )


@dataclasses.dataclass(frozen=True)
class RolloutReport:
    """``status.rollout`` and the conditions the rollout decides over the plain ones."""

    phase: Phase
    status: dict[str, Any]
    conditions: tuple[Condition, ...]


def report_rollout(
    plan: RolloutPlan,
    deployment: Mapping[str, Any] | None,
    *,
    previous: Mapping[str, Any] | None,
) -> RolloutReport:
    """How the rollout stands after this pass applied ``plan`` (``deployment`` as it is now)."""
    progress = read_rollout(parse_spec(plan.spec), deployment) if deployment else None
    notes = ((deployment or {}).get("metadata") or {}).get("annotations") or {}
    running, _ = load_release(notes.get(RELEASE_ANNOTATION))
    on_target = running is not None and running.template_hash == plan.target.template_hash
    stuck = bool(on_target and progress and progress.caught_up and progress.deadline_exceeded)
    phase, message = _phase(plan, progress, on_target=on_target, stuck=stuck)
    found: list[Condition] = []
    if phase is Phase.PAUSED:
        found.append(Condition(conditions.PROGRESSING, Status.FALSE, "RolloutPaused", message))
    elif phase is Phase.ROLLING_BACK:
        found.append(Condition(conditions.PROGRESSING, Status.TRUE, "RollingBack", message))
    elif phase is Phase.ROLLED_BACK:
        found.append(Condition(conditions.PROGRESSING, Status.FALSE, "RolledBack", message))
    elif phase is Phase.COMPLETE:
        found.append(Condition(conditions.PROGRESSING, Status.FALSE, "RolloutComplete", message))
    elif phase is Phase.PROGRESSING and progress is not None and not progress.deadline_exceeded:
        # The plain condition with the version in its message, for kubectl describe.
        found.append(Condition(conditions.PROGRESSING, Status.TRUE, "RollingOut", message))
    if plan.failed is not None:
        failure = plan.failure_message(restore_stuck=stuck and plan.restoring)
        found.append(Condition(conditions.DEGRADED, Status.TRUE, FAILED_REASON, failure))
    status: dict[str, Any] = {
        "phase": phase.value,
        "message": message,
        "version": plan.target.version,
        "templateHash": plan.target.template_hash,
        "lastReadyVersion": plan.last_ready.version if plan.last_ready else None,
        "lastReadyTemplateHash": plan.last_ready.template_hash if plan.last_ready else None,
        "failedVersion": plan.failed.version if plan.failed else None,
        "failedTemplateHash": plan.failed.template_hash if plan.failed else None,
        "failedGeneration": plan.failed.generation if plan.failed else None,
        "failedAt": plan.failed.at if plan.failed else None,
        "restoredVersion": plan.target.version if plan.failed and plan.restoring else None,
    }
    had = previous or {}
    status = {k: v for k, v in status.items() if v is not None or k in had}
    return RolloutReport(phase, status, tuple(found))


def _phase(
    plan: RolloutPlan, progress: DeploymentProgress | None, *, on_target: bool, stuck: bool
) -> tuple[Phase, str]:
    counts = (
        f"{progress.updated}/{progress.want} updated, {progress.available} available"
        if progress is not None
        else "no Deployment yet"
    )
    if plan.paused:
        return Phase.PAUSED, f"Paused by spec.rollout.paused at {plan.target} ({counts})."
    complete = on_target and progress is not None and progress.complete
    # Every pod runs the restored template: what is left (e.g. scaling) is no rollback.
    restored = complete or bool(
        on_target and progress and progress.caught_up and progress.updated == progress.replicas > 0
    )
    if plan.failed is not None and plan.restoring:
        if stuck:
            return Phase.FAILED, f"Rolling back to {plan.target} made no progress ({counts})."
        if restored:
            return Phase.ROLLED_BACK, f"Rolled back to {plan.target} ({counts})."
        return Phase.ROLLING_BACK, f"Rolling back to {plan.target} ({counts})."
    if plan.failed is not None:
        return Phase.FAILED, f"Rollout of {plan.target} failed ({counts})."
    if complete:
        return Phase.COMPLETE, f"Running {plan.target} ({counts})."
    return Phase.PROGRESSING, f"Rolling out {plan.target} ({counts})."
