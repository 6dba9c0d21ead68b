"""The operator's command-line flags and their ``GALE_OPERATOR_*`` environment fallbacks.

Read once at start; anything malformed is refused there with one line, exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence

ENV_PREFIX = "GALE_OPERATOR_"


class ConfigError(ValueError):
    """A flag or environment variable has an unusable value."""


@dataclasses.dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    metrics_port: int = 8080
    health_port: int = 8081
    peering: str | None = None  # None: standalone
    peering_lifetime: int = 60
    verbose: bool = False
    reconcile_interval: float = 60.0
    watch_server_timeout: float = 300.0
    watch_client_timeout: float = 330.0
    watch_inactivity_timeout: float = 600.0

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    def default(name: str, fallback: str | None) -> str | None:
        return env.get(ENV_PREFIX + name, fallback)

    parser = _Parser(prog="gale-operator", description="Run the Gale Microservice operator.")
    scope = parser.add_mutually_exclusive_group()
    env_namespaces = [ns for ns in (default("NAMESPACE", "") or "").split(",") if ns]
    scope.add_argument(
        "--namespace",
        action="append",
        metavar="NS",
        help="watch this namespace (repeatable; env GALE_OPERATOR_NAMESPACE=a,b)",
    )
    scope.add_argument(
        "--all-namespaces", action="store_true", help="watch every namespace (the default)"
    )
    parser.add_argument(
        "--metrics-port",
        default=default("METRICS_PORT", "8080"),
        metavar="PORT",
        help="serve Prometheus /metrics here (default 8080)",
    )
    parser.add_argument(
        "--health-port",
        default=default("HEALTH_PORT", "8081"),
        metavar="PORT",
        help="serve the kopf liveness probe /healthz here (default 8081)",
    )
    parser.add_argument(
        "--peering",
        default=default("PEERING", None),
        metavar="NAME",
        help="coordinate with other operator replicas through this kopf peering "
        "(default: standalone)",
    )
    parser.add_argument(
        "--peering-lifetime",
        default=default("PEERING_LIFETIME", "60"),
        metavar="SECONDS",
        help="seconds a replica counts as alive after its last peering keep-alive; a standby "
        "takes over within this once the active replica dies (default 60)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=default("VERBOSE", "") in {"1", "true"},
        help="debug logging",
    )
    parser.add_argument(
        "--reconcile-interval",
        default=default("RECONCILE_INTERVAL", "60"),
        metavar="SECONDS",
        help="seconds between level-based reconcile passes of each Microservice",
    )
    parser.set_defaults(env_namespaces=env_namespaces)
    return parser


def _port(value: str, flag: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"{flag} must be a port number, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{flag} must be between 1 and 65535, got {port}")
    return port


def parse_config(argv: Sequence[str], env: Mapping[str, str] | None = None) -> OperatorConfig:
    """Parse flags (falling back to the environment) or raise :class:`ConfigError`."""
    args = _parser(os.environ if env is None else env).parse_args(list(argv))
    namespaces = tuple(args.namespace or ([] if args.all_namespaces else args.env_namespaces))
    try:
        interval = float(args.reconcile_interval)
    except ValueError:
        raise ConfigError(
            f"--reconcile-interval must be a number of seconds, got {args.reconcile_interval!r}"
        ) from None
    if interval <= 0:
        raise ConfigError("--reconcile-interval must be positive")
    try:
        lifetime = int(args.peering_lifetime)
    except ValueError:
        raise ConfigError(
            f"--peering-lifetime must be whole seconds, got {args.peering_lifetime!r}"
        ) from None
    if lifetime < 2:
        raise ConfigError("--peering-lifetime must be at least 2 seconds")
    metrics_port = _port(args.metrics_port, "--metrics-port")
    health_port = _port(args.health_port, "--health-port")
    if metrics_port == health_port:
        raise ConfigError("--metrics-port and --health-port must differ")
    return OperatorConfig(
        namespaces=namespaces,
        metrics_port=metrics_port,
        health_port=health_port,
        peering=args.peering or None,
        peering_lifetime=lifetime,
        verbose=bool(args.verbose),
        reconcile_interval=interval,
    )
