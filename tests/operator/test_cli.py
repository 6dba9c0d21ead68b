"""The operator's command line: flags, environment fallbacks, and one-line refusals (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys

import kopf
import pytest
from gale_operator.config import ConfigError, OperatorConfig, parse_config
from gale_operator.core import kinds
from gale_operator.settings import operator_settings

from tests.operator.cluster import ROOT


def test_defaults_watch_every_namespace_standalone() -> None:
    config = parse_config([], env={})
    assert config == OperatorConfig()
    assert config.clusterwide
    assert config.peering is None
    assert (config.metrics_port, config.health_port) == (8080, 8081)


def test_flags_and_environment_fallbacks() -> None:
    env = {
        "GALE_OPERATOR_NAMESPACE": "a,b",
        "GALE_OPERATOR_METRICS_PORT": "9100",
        "GALE_OPERATOR_VERBOSE": "true",
        "GALE_OPERATOR_PEERING": "gale",
    }
    config = parse_config([], env=env)
    assert config.namespaces == ("a", "b")
    assert config.metrics_port == 9100
    assert config.verbose
    assert config.peering == "gale"
    assert not config.clusterwide
    flags = parse_config(
        ["--namespace", "x", "--namespace=y", "--reconcile-interval", "2.5"], env=env
    )
    assert flags.namespaces == ("x", "y")
    assert flags.reconcile_interval == 2.5
    assert parse_config(["--all-namespaces"], env=env).clusterwide


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--metrics-port", "http"], "--metrics-port must be a port number"),
        (["--health-port", "70000"], "between 1 and 65535"),
        (["--metrics-port", "9000", "--health-port", "9000"], "must differ"),
        (["--reconcile-interval", "0"], "must be positive"),
        (["--reconcile-interval", "soon"], "number of seconds"),
        (["--namespace", "a", "--all-namespaces"], "not allowed with"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_bad_configuration_is_refused(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(argv, env={})


@pytest.mark.parametrize(
    ("argv", "env"),
    [(["--metrics-port", "nope"], {}), ([], {"KUBECONFIG": "/nonexistent/kubeconfig"})],
)
def test_process_says_one_line_and_exits_2(argv: list[str], env: dict[str, str]) -> None:
    clean = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    result = subprocess.run(
        [sys.executable, "-m", "gale_operator", *argv],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gale-operator: error: ")


def test_settings_use_gale_names_and_hardened_watching() -> None:
    settings = operator_settings(parse_config([], env={}))
    assert settings.persistence.finalizer == kinds.FINALIZER == "gale.dev/finalizer"
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
    assert settings.persistence.progress_storage.prefix == "gale.dev"
    assert settings.watching.server_timeout
    assert settings.watching.client_timeout
    assert settings.watching.client_timeout > settings.watching.server_timeout
    assert settings.watching.inactivity_timeout
    assert settings.networking.request_timeout
    assert settings.peering.standalone
    peered = operator_settings(parse_config(["--peering", "gale"], env={}))
    assert not peered.peering.standalone
    assert peered.peering.name == "gale"
