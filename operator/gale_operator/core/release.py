"""Releases and the records of them a Deployment carries.

A *release* is every spec field that shapes the pods (image, resources, env, config, the
MongoDB reference, TLS, observability): what ``kubectl rollout undo`` would put back, plus
the ConfigMap the pods read. It is identified by its image version and a hash of the pod
template it renders to. The records (the release a template was rendered from, the last
Ready release, a failed attempt) are JSON in Deployment annotations; an unreadable one is
no record, never a crash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gale_operator.core.naming import Owner
from gale_operator.core.pod import pod_template
from gale_operator.core.spec import parse_spec

#: Spec fields that render into the pods (or the ConfigMap they read): one release.
RELEASE_FIELDS = ("image", "resources", "env", "config", "mongodb", "tls", "observability")
#: Spec fields whose change is no new attempt at a release: scaling and the pause switch.
NOT_AN_ATTEMPT = ("replicas", "autoscaling", "disruption")

RELEASE_ANNOTATION = "gale.dev/release"
LAST_READY_ANNOTATION = "gale.dev/last-ready-release"
FAILED_ANNOTATION = "gale.dev/failed-rollout"


def _digest(value: Any) -> str:
    payload = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class Release:
    """One version of the pods: its image version, a hash of its pod template, its spec fields."""

    version: str
    template_hash: str
    fields: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.version} (template {self.template_hash})"

    def dump(self, *, with_fields: bool = False, attempt: str | None = None) -> str:
        record: dict[str, Any] = {"version": self.version, "templateHash": self.template_hash}
        if with_fields:
            record["spec"] = dict(self.fields)
        if attempt is not None:
            record["attempt"] = attempt
        return json.dumps(record, sort_keys=True, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class FailedAttempt:
    """A release whose rollout failed, and the spec it was asked by (``attempt``)."""

    version: str
    template_hash: str
    attempt: str
    generation: int
    at: str

    def dump(self) -> str:
        record = {
            "version": self.version,
            "templateHash": self.template_hash,
            "attempt": self.attempt,
            "generation": self.generation,
            "at": self.at,
        }
        return json.dumps(record, sort_keys=True, separators=(",", ":"))


def release_of(raw_spec: Mapping[str, Any], *, owner: Owner) -> Release:
    """The release a spec asks for; raises :class:`~gale_operator.core.spec.SpecError`."""
    spec = parse_spec(raw_spec)
    return Release(
        version=spec.version,
        template_hash=_digest(pod_template(spec, owner=owner)),
        fields={key: raw_spec[key] for key in RELEASE_FIELDS if key in raw_spec},
    )


def attempt_of(raw_spec: Mapping[str, Any]) -> str:
    """Identifies an attempt: any spec change but scaling or (un)pausing makes a new one."""
    rollout = {k: v for k, v in (raw_spec.get("rollout") or {}).items() if k != "paused"}
    rest = {k: v for k, v in raw_spec.items() if k not in NOT_AN_ATTEMPT and k != "rollout"}
    return _digest({**rest, "rollout": rollout})


def with_release(raw_spec: Mapping[str, Any], release: Release) -> dict[str, Any]:
    """``raw_spec`` with every release field taken from ``release`` instead."""
    rest = {k: v for k, v in raw_spec.items() if k not in RELEASE_FIELDS}
    return {**rest, **release.fields}


def load_release(text: str | None) -> tuple[Release | None, str | None]:
    """The release an annotation records, and the attempt it was rendered for (if noted)."""
    try:
        record = json.loads(text) if text else None
        if not isinstance(record, dict):
            return None, None
        release = Release(
            version=str(record["version"]),
            template_hash=str(record["templateHash"]),
            fields=dict(record.get("spec") or {}),
        )
        return release, str(record["attempt"]) if "attempt" in record else None
    except (ValueError, KeyError, TypeError):
        return None, None  # hand-edited or foreign: no memory rather than a crash


def load_failed(text: str | None) -> FailedAttempt | None:
    try:
        record = json.loads(text) if text else None
        if not isinstance(record, dict):
            return None
        return FailedAttempt(
            version=str(record["version"]),
            template_hash=str(record["templateHash"]),
            attempt=str(record["attempt"]),
            generation=int(record["generation"]),
            at=str(record["at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
