"""The OpenTelemetry Collector configuration is complete and ordered as the collector needs.

No collector binary is available here (not packaged for Debian, and only PyPI, Debian and
npm are reachable), so `otelcol validate --config` cannot run; this test checks the
structure the collector would validate: every pipeline component is defined, every defined
one is used, memory_limiter runs first and batch last, receivers bind all interfaces.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.observability import assets

SECTIONS = ("receivers", "processors", "exporters")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(assets.COLLECTOR_CONFIG.read_text(encoding="utf-8"))
    return loaded


def _kind(component_id: str) -> str:
    """`otlp/traces` is an `otlp` component named `traces`."""
    return component_id.partition("/")[0]


def test_traces_and_metrics_pipelines_exist(config: dict[str, Any]) -> None:
    assert set(config["service"]["pipelines"]) >= {"traces", "metrics"}


def test_pipelines_use_only_defined_components(config: dict[str, Any]) -> None:
    for name, pipeline in config["service"]["pipelines"].items():
        for section in SECTIONS:
            assert pipeline[section], f"{name} has no {section}"
            undefined = set(pipeline[section]) - set(config[section])
            assert not undefined, f"{name} uses undefined {section}: {undefined}"


def test_every_defined_component_is_used(config: dict[str, Any]) -> None:
    pipelines = config["service"]["pipelines"].values()
    for section in SECTIONS:
        used = {component for pipeline in pipelines for component in pipeline.get(section, [])}
        assert set(config[section]) == used, section
    assert set(config["extensions"]) == set(config["service"]["extensions"])


def test_memory_limiter_first_and_batch_last(config: dict[str, Any]) -> None:
    for name, pipeline in config["service"]["pipelines"].items():
        processors = [_kind(p) for p in pipeline["processors"]]
        assert processors[0] == "memory_limiter", name
        assert processors[-1] == "batch", name


def test_memory_limiter_has_a_limit_and_a_spike_allowance(config: dict[str, Any]) -> None:
    for component_id, settings in config["processors"].items():
        if _kind(component_id) == "memory_limiter":
            assert settings.get("limit_percentage") or settings.get("limit_mib")
            assert settings.get("spike_limit_percentage") or settings.get("spike_limit_mib")
            assert settings.get("check_interval")


def test_otlp_is_received_over_grpc_and_http_on_all_interfaces(config: dict[str, Any]) -> None:
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"


def test_traces_leave_over_otlp_and_metrics_for_prometheus(config: dict[str, Any]) -> None:
    pipelines = config["service"]["pipelines"]
    assert [_kind(e) for e in pipelines["traces"]["exporters"]] == ["otlp"]
    assert {_kind(e) for e in pipelines["metrics"]["exporters"]} <= {
        "prometheus",
        "prometheusremotewrite",
    }


def test_health_check_extension_is_enabled(config: dict[str, Any]) -> None:
    assert "health_check" in config["extensions"]
    assert "health_check" in config["service"]["extensions"]
