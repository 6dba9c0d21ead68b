"""Gale's OTLP span encoding says exactly what the SDK's encoder says, for every span shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gale_service.telemetry import otlp, spans
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

REMOTE = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "value"), ("other", "x")]),
)


@pytest.fixture(params=["sdk spans", "gale spans"])
def finished(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """Spans of the SDK's provider, and of Gale's (lean spans for its own tracers)."""
    exporter = InMemorySpanExporter()
    resource = Resource.create({"service.name": "otlp-test", "replicas": 3}, "https://s/1")
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "12")
    provider = (
        TracerProvider(resource=resource, span_limits=SpanLimits())
        if request.param == "sdk spans"
        else spans.TracerProvider(resource=resource)
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def spans_of_every_shape(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("gale_service")
    other = provider.get_tracer(
        "gale_service.db",
        "1.2.3",
        schema_url="https://opentelemetry.io/schemas/1.26.0",
        attributes={"scope.flag": True},
    )
    with tracer.start_as_current_span(
        "GET /api/v1/items/{item_id}",
        context=trace.set_span_in_context(trace.NonRecordingSpan(REMOTE)),
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "url.path": "/api/v1/items/65a1",
            "server.port": 8888,
            "negative": -5,
            "zero": 0,
            "ratio": 0.25,
            "yes": True,
            "no": False,
            "empty": "",
            "names": ("a", "b", ""),
            "numbers": (1, -2, 0),
            "flags": (True, False),
            "floats": (1.5, 0.0),
        },
    ) as server:
        server.add_event("retry", {"attempt": 2, "why": "conflict"})
        server.add_event("bare")
        with other.start_as_current_span("find items", kind=SpanKind.CLIENT) as client:
            client.set_attribute("same-key", 1)
        with tracer.start_as_current_span(
            "send", kind=SpanKind.PRODUCER, links=[Link(REMOTE, {"link.kind": "upgrade"})]
        ) as producer:
            producer.set_attribute("same-key", True)  # 1 and True must not share a cache entry
            producer.set_status(Status(StatusCode.ERROR, "it broke"))
            producer.record_exception(ValueError("no"))
        with tracer.start_as_current_span("internal", links=[Link(server.get_span_context())]):
            pass
        with trace.use_span(tracer.start_span("consume", kind=SpanKind.CONSUMER), end_on_exit=True):
            trace.get_current_span().set_status(Status(StatusCode.OK))
        server.set_attribute("http.response.status_code", 200)
    tracer.start_span("root", context=trace.set_span_in_context(trace.INVALID_SPAN)).end()


def test_every_span_shape_encodes_as_the_sdk_encodes(
    finished: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = finished
    spans_of_every_shape(provider)
    spans = exporter.get_finished_spans()
    assert len(spans) == 6
    assert any(span.dropped_attributes for span in spans)  # the limit of 12 was hit
    ours = ExportTraceServiceRequest.FromString(otlp.encode_spans(spans))
    assert ours == sdk_encode(spans)
    # Encoded again from the pair cache, it is still the same.
    assert ExportTraceServiceRequest.FromString(otlp.encode_spans(spans)) == sdk_encode(spans)


def test_values_otlp_cannot_carry_are_left_out_as_the_sdk_leaves_them(
    finished: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = finished
    with provider.get_tracer("t").start_as_current_span("big", attributes={"huge": 2**70, "ok": 1}):
        pass
    spans = exporter.get_finished_spans()
    ours = ExportTraceServiceRequest.FromString(otlp.encode_spans(spans))
    assert ours == sdk_encode(spans)
    [attribute] = ours.resource_spans[0].scope_spans[0].spans[0].attributes
    assert attribute.key == "ok"


def test_the_pair_and_name_caches_stay_bounded(
    finished: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = finished
    tracer = provider.get_tracer("t")
    for number in range(otlp.PAIR_CACHE_SIZE + 10):
        with tracer.start_as_current_span(
            f"s{number}", attributes={"url.path": f"/items/{number}"}
        ):
            pass
    spans = exporter.get_finished_spans()
    assert ExportTraceServiceRequest.FromString(otlp.encode_spans(spans)) == sdk_encode(spans)
    assert len(otlp._pairs) <= otlp.PAIR_CACHE_SIZE
    assert len(otlp._names) <= otlp.PAIR_CACHE_SIZE
