"""The OpenTelemetry SDK, configured once per process from the standard ``OTEL_*`` variables.

The SDK reads most of them itself: ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``
(the operator puts ``k8s.pod.name``/``k8s.namespace.name`` from the downward API there),
``OTEL_TRACES_SAMPLER``/``_ARG`` (``parentbased_traceidratio``), ``OTEL_EXPORTER_OTLP_*``
(endpoint, headers, timeout, compression, certificate) and ``OTEL_BSP_*``. This module adds
what the SDK leaves to its caller: choosing the exporter (``OTEL_TRACES_EXPORTER``: ``otlp``,
``console`` or ``none``), refusing an OTLP protocol that is not installed instead of silently
dropping spans, and ``OTEL_SDK_DISABLED``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from gale_service.telemetry.lifecycle import service_version
from gale_service.telemetry.spans import TracerProvider

DEFAULT_SERVICE_NAME = "gale-service"
SUPPORTED_PROTOCOLS = ("http/protobuf",)
#: Downward-API variables the operator sets; used when OTEL_RESOURCE_ATTRIBUTES lacks them.
KUBERNETES_VARIABLES = {"K8S_POD_NAME": "k8s.pod.name", "K8S_NAMESPACE_NAME": "k8s.namespace.name"}


class TracingConfigError(ValueError):
    """An ``OTEL_*`` variable the service cannot honour; the message names it."""


def _default_exporter(env: Mapping[str, str], *, dev: bool) -> str:
    """``otlp``, as the specification says, except in dev with no OTLP variable set at all: a
    developer's ``make run`` should not spend its exit retrying a collector that isn't there."""
    if dev and not any(name.startswith("OTEL_EXPORTER_OTLP_") and env[name] for name in env):
        return "none"
    return "otlp"


def _exporter(env: Mapping[str, str], *, dev: bool) -> SpanExporter | None:
    default = _default_exporter(env, dev=dev)
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", default).lower().split(",")]
    if names == ["none"]:
        return None
    if names == ["console"]:
        return ConsoleSpanExporter()
    if names != ["otlp"]:
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER: {env['OTEL_TRACES_EXPORTER']!r} is not supported; "
            "use otlp, console or none"
        )
    protocol = env.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    ).strip()
    if protocol and protocol not in SUPPORTED_PROTOCOLS:
        raise TracingConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not installed in this image; "
            f"use {' or '.join(SUPPORTED_PROTOCOLS)} (the collector's port 4318)"
        )
    from gale_service.telemetry.otlp import OTLPSpanExporter

    return OTLPSpanExporter()


def _resource(env: Mapping[str, str]) -> Resource:
    attributes: dict[str, str] = {"service.version": service_version()}
    if "OTEL_SERVICE_NAME" not in env:
        attributes["service.name"] = DEFAULT_SERVICE_NAME
    resource = Resource.create(attributes)
    extra = {
        key: env[variable]
        for variable, key in KUBERNETES_VARIABLES.items()
        if env.get(variable) and key not in resource.attributes
    }
    return resource.merge(Resource(extra)) if extra else resource


def configure_tracing(
    env: Mapping[str, str] | None = None, *, dev: bool = False
) -> TracerProvider | None:
    """Install the SDK's tracer provider (with lean spans for Gale's own tracers, see
    :mod:`gale_service.telemetry.spans`), or nothing when ``OTEL_SDK_DISABLED=true``.

    The caller shuts the provider down at exit so the last batch of spans is sent.
    """
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporter = _exporter(env, dev=dev)
    provider = TracerProvider(resource=_resource(env))
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


__all__ = ["DEFAULT_SERVICE_NAME", "TracingConfigError", "configure_tracing"]
