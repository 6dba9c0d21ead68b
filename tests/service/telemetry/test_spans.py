"""Gale's lean spans: the same calls export exactly what the SDK's own spans export."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import pytest
from gale_service.telemetry import spans
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from tests.service.telemetry.test_otlp_encoding import REMOTE, spans_of_every_shape

PROVIDERS = {"sdk": sdk_trace.TracerProvider, "gale": spans.TracerProvider}
CLOCK = 1_700_000_000_123_456_789
LIMITS = {
    "defaults": {},
    "tight": {
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "4",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "5",
        "OTEL_SPAN_EVENT_COUNT_LIMIT": "2",
        "OTEL_SPAN_LINK_COUNT_LIMIT": "1",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT": "2",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT": "1",
    },
    "no attributes": {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "0"},
}
OWN_FRAME = re.compile(r'  File "[^"]+", line \d+, in start_as_current_span\n    yield \w+\n')
UNSAMPLED = SpanContext(
    trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
    span_id=0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.DEFAULT),
)


class Counting(IdGenerator):
    """Ids in sequence, so both providers hand out the same ones."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def generate_span_id(self) -> int:
        return next(self._next)

    def generate_trace_id(self) -> int:
        return 0x5B8EFFF798038103D269B633813F0000 + next(self._next)

    def is_trace_id_random(self) -> bool:
        return True


class Level(IntEnum):
    HIGH = 3


class Opaque:
    """No ``__str__`` of its own: the SDK drops such a value."""

    __slots__ = ()


class Named:
    def __str__(self) -> str:
        return "named"


def hostile_attributes(provider: sdk_trace.TracerProvider) -> None:
    tracer = provider.get_tracer("gale_service")
    span = tracer.start_span(
        "attributes",
        kind=SpanKind.SERVER,
        attributes={"first": "a value longer than five", "": 1, "level": Level.HIGH},
        start_time=CLOCK - 10,
    )
    mixed: dict[Any, Any] = {
        "plain": 1,
        "ratio": 0.5,
        "yes": True,
        7: "a non-string key",
        "none": None,
        "blob": b"\x00\x01",
        "list": ["a", "bcdefgh"],
        "tuple": (1, 2),
        "mapping": {"inner": "value", "": "dropped"},
        "named": Named(),
        "opaque": Opaque(),
        "first": "set again, so it moves last",
    }
    span.set_attributes(mixed)
    span.set_attribute("", "dropped")
    span.set_attribute(8, "dropped: set_attribute does not convert keys")  # type: ignore[arg-type]
    span.set_attribute("sequence", ("x", "yz"))
    span.set_attribute("last", "z")
    span.end(end_time=CLOCK)


def events_links_and_status(provider: sdk_trace.TracerProvider) -> None:
    tracer = provider.get_tracer("gale_service.db")
    links = [
        Link(REMOTE, {"link.kind": "upgrade", "extra": 1}),
        Link(trace.INVALID_SPAN_CONTEXT),
        Link(trace.INVALID_SPAN_CONTEXT, {"kept": "because it has attributes"}),
    ]
    span = tracer.start_span("events", links=links, start_time=CLOCK - 5)
    span.add_event("one", {"attempt": 1, "why": "conflict", "more": True}, timestamp=CLOCK - 4)
    span.add_event("two")
    span.add_event("three", timestamp=CLOCK - 3)
    span.add_link(UNSAMPLED, {"link.kind": "later"})
    span.add_link(trace.INVALID_SPAN_CONTEXT)
    span.update_name("events renamed")
    span.set_status(StatusCode.UNSET)
    span.set_status(Status(StatusCode.ERROR, "first"), "ignored description")
    span.set_status(StatusCode.OK)
    span.set_status(StatusCode.ERROR, "ignored: OK is final")
    span.end(end_time=CLOCK)
    span.set_attribute("after", "end")
    span.set_attributes({"after": "end"})
    span.add_event("after end")
    span.add_link(REMOTE)
    span.update_name("after end")
    span.set_status(StatusCode.ERROR)
    span.end(end_time=CLOCK + 1)

    described = tracer.start_span("described", start_time=CLOCK)
    described.set_status(StatusCode.ERROR, "with a description")
    described.end(end_time=CLOCK)


def exceptions(provider: sdk_trace.TracerProvider) -> None:
    tracer = provider.get_tracer("gale_service")
    parent = trace.set_span_in_context(
        trace.NonRecordingSpan(
            SpanContext(
                REMOTE.trace_id,
                REMOTE.span_id,
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID),
                trace_state=TraceState([("vendor", "value")]),
            )
        )
    )
    with (
        pytest.raises(ValueError, match="inside"),
        tracer.start_as_current_span("as current", context=parent),
    ):
        raise ValueError("raised inside start_as_current_span")
    span = tracer.start_span("as context manager")
    span.set_attribute("inside", True)
    with pytest.raises(KeyError, match="own with block"), span:
        raise KeyError("raised inside the span's own with block")
    with pytest.raises(RuntimeError), tracer.start_span("quiet", record_exception=False):
        raise RuntimeError("neither recorded nor turned into a status")
    recorded = tracer.start_span("recorded")
    recorded.record_exception(
        OSError(5, "disk"), {"exception.escaped": "overridden", "extra": 1}, CLOCK, escaped=True
    )
    recorded.end()


SCENARIOS: dict[str, Callable[[sdk_trace.TracerProvider], None]] = {
    "every shape": spans_of_every_shape,
    "hostile attributes": hostile_attributes,
    "events, links and status": events_links_and_status,
    "exceptions": exceptions,
}


def exported(
    provider_class: type[sdk_trace.TracerProvider],
    scenario: Callable[[sdk_trace.TracerProvider], None],
    monkeypatch: pytest.MonkeyPatch,
) -> list[ReadableSpan]:
    monkeypatch.setattr(sdk_trace, "time_ns", lambda: CLOCK)
    monkeypatch.setattr(spans, "time_ns", lambda: CLOCK)
    provider = provider_class(
        resource=Resource.create({"service.name": "spans-test"}), id_generator=Counting()
    )
    provider.get_tracer("gale_service")  # handed out before the processor is added
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    scenario(provider)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _event_attributes(event: Event) -> dict[str, Any]:
    """An event's attributes, the stack trace without the frame of the tracer's own
    ``start_as_current_span`` (which is in a different file for each tracer)."""
    attributes = dict(event.attributes or {})
    if "exception.stacktrace" in attributes:
        attributes["exception.stacktrace"] = OWN_FRAME.sub(
            "", str(attributes["exception.stacktrace"])
        )
    return attributes


def encoded(finished: list[ReadableSpan]) -> ExportTraceServiceRequest:
    """The export request the SDK's encoder makes, stack traces as in :func:`_event_attributes`."""
    request = sdk_encode(finished)
    for resource in request.resource_spans:
        for scope in resource.scope_spans:
            for span in scope.spans:
                for event in span.events:
                    for attribute in event.attributes:
                        if attribute.key == "exception.stacktrace":
                            text = attribute.value.string_value
                            attribute.value.string_value = OWN_FRAME.sub("", text)
    return request


def described(span: ReadableSpan) -> dict[str, Any]:
    """Everything a processor or exporter can read of an ended span."""
    return {
        "name": span.name,
        "context": span.context,
        "parent": span.parent,
        "kind": span.kind,
        "times": (span.start_time, span.end_time),
        "status": (span.status.status_code, span.status.description),
        "attributes": list(span.attributes.items()) if span.attributes else [],
        "events": [
            (event.name, event.timestamp, _event_attributes(event), event.dropped_attributes)
            for event in span.events
        ],
        "links": [
            (link.context, dict(link.attributes or {}), link.dropped_attributes)
            for link in span.links
        ],
        "dropped": (span.dropped_attributes, span.dropped_events, span.dropped_links),
        "resource": span.resource,
        "scope": span.instrumentation_scope,
    }


@pytest.mark.parametrize("limits", LIMITS.values(), ids=LIMITS)
@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS)
def test_lean_spans_export_what_the_sdk_spans_export(
    scenario: Callable[[sdk_trace.TracerProvider], None],
    limits: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in limits.items():
        monkeypatch.setenv(name, value)
    theirs = exported(sdk_trace.TracerProvider, scenario, monkeypatch)
    ours = exported(spans.TracerProvider, scenario, monkeypatch)
    assert ours, "the scenario ended no span"
    assert all(isinstance(span, spans.Span) for span in ours)
    assert not any(isinstance(span, spans.Span) for span in theirs)
    assert [described(span) for span in ours] == [described(span) for span in theirs]
    assert encoded(ours) == encoded(theirs)


def test_the_tight_limits_are_hit_by_the_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    """Otherwise the comparison above would not reach the dropping paths."""
    for name, value in LIMITS["tight"].items():
        monkeypatch.setenv(name, value)
    ours = [
        span
        for scenario in (hostile_attributes, events_links_and_status)
        for span in exported(spans.TracerProvider, scenario, monkeypatch)
    ]
    assert any(span.dropped_attributes for span in ours)
    assert any(span.dropped_events for span in ours)
    assert any(span.dropped_links for span in ours)
    assert any(len(str(value)) == 5 for span in ours for value in (span.attributes or {}).values())


@pytest.mark.parametrize("provider_class", PROVIDERS.values(), ids=PROVIDERS)
def test_an_unsampled_span_records_nothing_and_keeps_its_context(
    provider_class: type[sdk_trace.TracerProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = provider_class(
        resource=Resource.create({}), sampler=ParentBased(ALWAYS_OFF), id_generator=Counting()
    )
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("gale_service")
    remote = tracer.start_span(
        "child", context=trace.set_span_in_context(trace.NonRecordingSpan(UNSAMPLED))
    )
    root = tracer.start_span("root")
    for span in (remote, root):
        assert not span.is_recording()
        span.set_attribute("ignored", 1)
        span.end()
    assert remote.get_span_context().trace_id == UNSAMPLED.trace_id
    assert not remote.get_span_context().trace_flags.sampled
    assert root.get_span_context().trace_flags == TraceFlags.RANDOM_TRACE_ID
    assert exporter.get_finished_spans() == ()


def test_only_this_packages_own_tracers_are_lean(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = spans.TracerProvider(resource=Resource.create({}))
    assert isinstance(provider.get_tracer("gale_service"), spans.Tracer)
    assert isinstance(provider.get_tracer("gale_service.db", "1.0"), spans.Tracer)
    assert provider.get_tracer("gale_service") is provider.get_tracer("gale_service")
    assert type(provider.get_tracer("gale_servicex")) is sdk_trace.Tracer
    assert type(provider.get_tracer("requests")) is sdk_trace.Tracer
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    disabled = spans.TracerProvider(resource=Resource.create({}))
    assert isinstance(disabled.get_tracer("gale_service"), trace.NoOpTracer)
