"""Start the operator: parse the configuration, serve metrics, hand over to kopf."""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys
from collections.abc import Sequence

import kopf

from gale_operator import metrics
from gale_operator.config import ConfigError, OperatorConfig, parse_config
from gale_operator.core import kinds
from gale_operator.handlers.runtime import Runtime
from gale_operator.kube.client import ApiError, KubeClient
from gale_operator.log_levels import demote_watch_successes
from gale_operator.settings import operator_settings


def _check_credentials() -> None:
    """Fail early and clearly when there is no way to reach an API server."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return
    paths = os.environ.get("KUBECONFIG", str(pathlib.Path.home() / ".kube" / "config"))
    if not any(pathlib.Path(p).is_file() for p in paths.split(os.pathsep) if p):
        raise ConfigError(f"no kubeconfig found at {paths!r} and not running in a cluster")


async def check_peering(config: OperatorConfig) -> None:
    """Fail when ``--peering`` cannot work: kopf itself would only pause, logging at DEBUG.

    Its CRD must be served and the peering object exist (cluster-wide, or in every watched
    namespace), as the chart installs them.
    """
    name = config.peering
    if name is None:
        return
    kind = kinds.CLUSTER_PEERING if config.clusterwide else kinds.PEERING
    client = await KubeClient.connect(attempts=3)
    try:
        if not await client.serves(kind):
            raise ConfigError(
                f"--peering {name} needs kopf's peering CRD {kind.plural}.{kind.group}, which "
                "the API server does not serve; install it (the Helm chart's crds/ ship it) "
                "or run without --peering"
            )
        for namespace in config.namespaces or (None,):
            if await client.get(kind, namespace=namespace or "", name=name) is None:
                where = f" in namespace {namespace}" if namespace else ""
                raise ConfigError(
                    f"--peering {name}: no {kind.kind} {name}{where}; create it (the Helm "
                    "chart does) or run without --peering"
                )
    except ApiError as exc:
        raise ConfigError(f"--peering {name}: cannot check the peering object: {exc}") from None
    finally:
        await client.close()


def run(config: OperatorConfig) -> None:
    import gale_operator.handlers  # noqa: F401 - registers the handlers with kopf

    kopf.configure(verbose=config.verbose)
    demote_watch_successes()
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
        asyncio.run(check_peering(config))
    except ConfigError as exc:
        print(f"gale-operator: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    run(config)
