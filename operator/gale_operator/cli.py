"""Start the operator: parse the configuration, serve metrics, hand over to kopf."""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Sequence

import kopf

from gale_operator import metrics
from gale_operator.config import ConfigError, OperatorConfig, parse_config
from gale_operator.handlers.runtime import Runtime
from gale_operator.settings import operator_settings


def _check_credentials() -> None:
    """Fail early and clearly when there is no way to reach an API server."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return
    paths = os.environ.get("KUBECONFIG", str(pathlib.Path.home() / ".kube" / "config"))
    if not any(pathlib.Path(p).is_file() for p in paths.split(os.pathsep) if p):
        raise ConfigError(f"no kubeconfig found at {paths!r} and not running in a cluster")


def run(config: OperatorConfig) -> None:
    import gale_operator.handlers  # noqa: F401 - registers the handlers with kopf

    kopf.configure(verbose=config.verbose)
    metrics.serve(config.metrics_port)
    kopf.run(
        settings=operator_settings(config),
        clusterwide=config.clusterwide,
        namespaces=list(config.namespaces),
        standalone=config.peering is None,
        peering_name=config.peering,
        liveness_endpoint=f"http://0.0.0.0:{config.health_port}/healthz",
        memo=kopf.Memo(runtime=Runtime(reconcile_interval=config.reconcile_interval)),
    )


def main(argv: Sequence[str] | None = None) -> None:
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv)
        _check_credentials()
    except ConfigError as exc:
        print(f"gale-operator: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    run(config)
