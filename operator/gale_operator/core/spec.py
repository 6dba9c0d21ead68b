"""The ``Microservice`` spec as typed values, with the CRD's defaults filled in.

The API server already applies the CRD defaults; parsing defends against objects stored
before a default existed and gives the rest of the core attributes instead of dict lookups.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

IntOrString = int | str

#: Seconds the service keeps serving after SIGTERM while endpoints drop it (GALE_DRAIN_SECONDS).
DEFAULT_DRAIN_SECONDS = 5
#: Seconds the service allows in-flight work to finish after draining.
DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 20


class TLSMode(enum.StrEnum):
    DISABLED = "disabled"
    SELF_SIGNED = "selfSigned"
    CERT_MANAGER = "certManager"


class SpecError(ValueError):
    """The spec cannot be turned into objects (the CRD schema normally prevents this)."""


@dataclasses.dataclass(frozen=True)
class SecretKeyRef:
    name: str
    key: str = "uri"


@dataclasses.dataclass(frozen=True)
class MongoDB:
    uri_secret: SecretKeyRef
    database: str = "gale"


@dataclasses.dataclass(frozen=True)
class ServicePort:
    port: int = 80
    type: str = "ClusterIP"


@dataclasses.dataclass(frozen=True)
class Autoscaling:
    enabled: bool = False
    min_replicas: int = 2
    max_replicas: int = 10
    target_cpu_percent: int = 75


@dataclasses.dataclass(frozen=True)
class Disruption:
    min_available: IntOrString | None = None
    max_unavailable: IntOrString | None = 1


@dataclasses.dataclass(frozen=True)
class IssuerRef:
    name: str
    kind: str = "Issuer"
    group: str = "cert-manager.io"


@dataclasses.dataclass(frozen=True)
class TLS:
    mode: TLSMode = TLSMode.DISABLED
    issuer_ref: IssuerRef | None = None
    dns_names: tuple[str, ...] = ()
    duration: str = "2160h"
    renew_before: str = "360h"

    @property
    def enabled(self) -> bool:
        return self.mode is not TLSMode.DISABLED


@dataclasses.dataclass(frozen=True)
class Rollout:
    max_surge: IntOrString = "25%"
    max_unavailable: IntOrString = 0
    progress_deadline_seconds: int = 600
    paused: bool = False


@dataclasses.dataclass(frozen=True)
class Observability:
    otlp_endpoint: str | None = None
    sampling_ratio: float = 0.1
    service_monitor: bool = True


@dataclasses.dataclass(frozen=True)
class NetworkPolicy:
    enabled: bool = False
    allow_from: tuple[Mapping[str, Any], ...] = ()


@dataclasses.dataclass(frozen=True)
class MicroserviceSpec:
    """What the user asked for; every field has the CRD's default when omitted."""

    image: str
    mongodb: MongoDB
    replicas: int = 2
    resources: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    env: tuple[Mapping[str, Any], ...] = ()
    config: Mapping[str, str] = dataclasses.field(default_factory=dict)
    service: ServicePort = ServicePort()
    autoscaling: Autoscaling = Autoscaling()
    disruption: Disruption = Disruption()
    tls: TLS = TLS()
    rollout: Rollout = Rollout()
    observability: Observability = Observability()
    network_policy: NetworkPolicy = NetworkPolicy()

    @property
    def version(self) -> str:
        """The image's digest if pinned, else its tag (``latest`` when it has neither)."""
        if "@" in self.image:
            return self.image.rsplit("@", 1)[1]
        last = self.image.rsplit("/", 1)[-1]
        return last.rsplit(":", 1)[1] if ":" in last else "latest"

    def _literal_env(self, name: str) -> str | None:
        for entry in self.env:
            if entry.get("name") == name and isinstance(entry.get("value"), str):
                return str(entry["value"])
        return None

    @property
    def drain_seconds(self) -> int:
        """The service's drain, so the preStop pause can match an override in ``env``."""
        return _int_or(self._literal_env("GALE_DRAIN_SECONDS"), DEFAULT_DRAIN_SECONDS)

    @property
    def shutdown_timeout_seconds(self) -> int:
        value = self._literal_env("GALE_SHUTDOWN_TIMEOUT_SECONDS")
        return _int_or(value, DEFAULT_SHUTDOWN_TIMEOUT_SECONDS)


def _int_or(value: str | None, default: int) -> int:
    try:
        return max(0, int(value)) if value is not None else default
    except ValueError:
        return default


def parse_spec(spec: Mapping[str, Any]) -> MicroserviceSpec:
    """Turn the raw ``spec`` into typed values, or raise :class:`SpecError` saying what is wrong."""
    image = spec.get("image")
    if not isinstance(image, str) or not image:
        raise SpecError("spec.image is required")
    mongodb = spec.get("mongodb") or {}
    secret_ref = mongodb.get("uriSecretRef") or {}
    if not secret_ref.get("name"):
        raise SpecError("spec.mongodb.uriSecretRef.name is required")
    service = spec.get("service") or {}
    scaling = spec.get("autoscaling") or {}
    disruption = spec.get("disruption") or {}
    tls = spec.get("tls") or {}
    issuer = tls.get("issuerRef")
    rollout = spec.get("rollout") or {}
    obs = spec.get("observability") or {}
    netpol = spec.get("networkPolicy") or {}
    parsed = MicroserviceSpec(
        image=image,
        replicas=int(spec.get("replicas", 2)),
        resources=dict(spec.get("resources") or {}),
        env=tuple(spec.get("env") or ()),
        config={str(k): str(v) for k, v in (spec.get("config") or {}).items()},
        mongodb=MongoDB(
            uri_secret=SecretKeyRef(name=secret_ref["name"], key=secret_ref.get("key", "uri")),
            database=mongodb.get("database", "gale"),
        ),
        service=ServicePort(
            port=int(service.get("port", 80)), type=service.get("type", "ClusterIP")
        ),
        autoscaling=Autoscaling(
            enabled=bool(scaling.get("enabled", False)),
            min_replicas=int(scaling.get("minReplicas", 2)),
            max_replicas=int(scaling.get("maxReplicas", 10)),
            target_cpu_percent=int(scaling.get("targetCPUUtilizationPercentage", 75)),
        ),
        disruption=Disruption(
            min_available=disruption.get("minAvailable"),
            max_unavailable=disruption.get("maxUnavailable")
            if "minAvailable" in disruption or "maxUnavailable" in disruption
            else 1,
        ),
        tls=TLS(
            mode=TLSMode(tls.get("mode", "disabled")),
            issuer_ref=IssuerRef(
                name=issuer["name"],
                kind=issuer.get("kind", "Issuer"),
                group=issuer.get("group", "cert-manager.io"),
            )
            if issuer
            else None,
            dns_names=tuple(tls.get("dnsNames") or ()),
            duration=tls.get("duration", "2160h"),
            renew_before=tls.get("renewBefore", "360h"),
        ),
        rollout=Rollout(
            max_surge=rollout.get("maxSurge", "25%"),
            max_unavailable=rollout.get("maxUnavailable", 0),
            progress_deadline_seconds=int(rollout.get("progressDeadlineSeconds", 600)),
            paused=bool(rollout.get("paused", False)),
        ),
        observability=Observability(
            otlp_endpoint=obs.get("otlpEndpoint") or None,
            sampling_ratio=float(obs.get("samplingRatio", 0.1)),
            service_monitor=bool(obs.get("serviceMonitor", True)),
        ),
        network_policy=NetworkPolicy(
            enabled=bool(netpol.get("enabled", False)),
            allow_from=tuple(netpol.get("allowFrom") or ()),
        ),
    )
    _check(parsed)
    return parsed


def _check(spec: MicroserviceSpec) -> None:
    """Cross-field rules the CRD's CEL also enforces, for objects stored before those rules."""
    if spec.autoscaling.min_replicas > spec.autoscaling.max_replicas:
        raise SpecError("spec.autoscaling.minReplicas must not exceed maxReplicas")
    if spec.tls.mode is TLSMode.CERT_MANAGER and spec.tls.issuer_ref is None:
        raise SpecError("spec.tls.mode certManager needs spec.tls.issuerRef")
    if not 0 <= spec.replicas <= 100:
        raise SpecError("spec.replicas must be between 0 and 100")
