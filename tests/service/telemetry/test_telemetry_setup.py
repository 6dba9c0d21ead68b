"""The SDK set-up from ``OTEL_*`` variables: exporter choice, refusals, resource attributes."""

from __future__ import annotations

import pytest
from gale_service.telemetry import setup
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter


def test_disabled_sdk_installs_nothing() -> None:
    assert setup.configure_tracing({"OTEL_SDK_DISABLED": "true"}) is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, OTLPSpanExporter),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, OTLPSpanExporter),
        ({"OTEL_TRACES_EXPORTER": "console"}, ConsoleSpanExporter),
        ({"OTEL_TRACES_EXPORTER": "none"}, type(None)),
    ],
)
def test_exporter_follows_otel_traces_exporter(env: dict[str, str], expected: type) -> None:
    assert isinstance(setup._exporter(env, dev=False), expected)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, type(None)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, OTLPSpanExporter),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, OTLPSpanExporter),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, OTLPSpanExporter),
        ({"OTEL_TRACES_EXPORTER": "console"}, ConsoleSpanExporter),
    ],
)
def test_dev_exports_only_to_a_configured_collector(env: dict[str, str], expected: type) -> None:
    assert isinstance(setup._exporter(env, dev=True), expected)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ],
)
def test_unusable_exporter_settings_are_refused(env: dict[str, str], named: str) -> None:
    with pytest.raises(setup.TracingConfigError, match=named):
        setup._exporter(env, dev=False)


def test_resource_defaults_and_downward_api_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "k8s.namespace.name=shop")
    env = {"K8S_POD_NAME": "gale-abc", "K8S_NAMESPACE_NAME": "ignored-already-set"}
    attributes = setup._resource(env).attributes
    assert attributes["service.name"] == setup.DEFAULT_SERVICE_NAME
    assert attributes["k8s.pod.name"] == "gale-abc"
    assert attributes["k8s.namespace.name"] == "shop", "OTEL_RESOURCE_ATTRIBUTES wins"
    assert attributes["service.version"]


def test_service_name_comes_from_otel_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "orders")
    assert setup._resource({"OTEL_SERVICE_NAME": "orders"}).attributes["service.name"] == "orders"
