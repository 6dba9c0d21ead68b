"""The OTLP/HTTP span exporter, with the export request encoded straight to protobuf bytes.

The SDK's exporter builds a tree of generated protobuf objects for every batch (one object per
span, attribute and value) and hashes the resource, by JSON-encoding it, once per span. With
every request traced that was the largest single cost of tracing: on the benchmark's
authenticated read the export thread took ~12 % of the process's CPU, nine-tenths of it in
encoding (``python -m bench.profile --server gale-traced``).

:func:`encode_spans` writes the same ``ExportTraceServiceRequest`` directly in the protobuf
wire format. Most attributes repeat from span to span (method, route, scheme, server address,
database name, ...), so each encoded key/value pair is kept in a bounded table and reused; the
resource and the instrumentation scope are encoded once. The tests check the result parses to
exactly what the SDK's encoder produces (which, like this, sends no trace state for links).
Sending, retries, compression, headers, the size limit and the exporter's own metrics stay the
SDK's.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http._common import (
    RequestPayloadTooLargeError,
    _is_request_too_large,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as SdkOTLPSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceState

log = logging.getLogger(__name__)

#: OTLP's ``Span.SpanKind`` numbers (the API's enum counts from 0, without UNSPECIFIED).
_KIND = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_INT64 = range(-(2**63), 2**63)
#: Encoded key/value pairs kept for reuse; emptied when full (values like paths vary).
PAIR_CACHE_SIZE = 4096
_FIXED64 = struct.Struct("<Q")
_FIXED32 = struct.Struct("<I")
_DOUBLE = struct.Struct("<d")


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _delimited(field: int, payload: bytes) -> bytes:
    return _tag(field, 2) + _varint(len(payload)) + payload


def _string(field: int, text: str) -> bytes:
    return _delimited(field, text.encode()) if text else b""


def _uint(field: int, value: int) -> bytes:
    return _tag(field, 0) + _varint(value) if value else b""


def _any_value(value: Any) -> bytes:
    """An ``AnyValue``; ``ValueError`` for what OTLP cannot carry (as the SDK refuses it)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _delimited(1, value.encode())
    if isinstance(value, int):
        if value not in _INT64:
            raise ValueError(f"integer {value} does not fit OTLP's int64")
        return b"\x18" + _varint(value & 0xFFFF_FFFF_FFFF_FFFF)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _delimited(7, value)
    if isinstance(value, Sequence):
        return _delimited(5, b"".join(_delimited(1, _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _delimited(
            6, b"".join(_delimited(1, _key_value(str(k), v)) for k, v in value.items())
        )
    raise ValueError(f"invalid type {type(value)} of value {value}")


def _key_value(key: str, value: Any) -> bytes:
    return _string(1, key) + _delimited(2, _any_value(value))


_pairs: dict[tuple[str, type, object], bytes] = {}
#: Values whose encoded pair is kept (bool is an int: the type is part of the key).
_SCALARS = (str, int, float)


def _attributes(field: int, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` as ``field``; a value OTLP cannot carry is logged and left out,
    as the SDK's encoder does."""
    if not attributes:
        return b""
    parts = []
    pairs = _pairs
    for key, value in attributes.items():
        scalar = isinstance(value, _SCALARS)
        cache_key = (key, type(value), value)
        encoded = pairs.get(cache_key) if scalar else None
        if encoded is None:
            try:
                encoded = _delimited(field, _key_value(key, value))
            except ValueError as error:
                log.error("Failed to encode key %s: %s", key, error)
                continue
            if scalar:
                if len(pairs) >= PAIR_CACHE_SIZE:
                    pairs.clear()
                pairs[cache_key] = encoded
        parts.append(encoded)
    return b"".join(parts)


#: ``Span.flags`` (field 16, fixed32) for a local parent or none, and for a remote parent.
_LOCAL_FLAGS = b"\x85\x01" + _FIXED32.pack(_HAS_IS_REMOTE)
_REMOTE_FLAGS = b"\x85\x01" + _FIXED32.pack(_HAS_IS_REMOTE | _IS_REMOTE)
#: ``Span.status`` (field 15) when unset, as almost every span's is.
_UNSET_STATUS = b"\x7a\x00"


def _status(status: Status) -> bytes:
    if status.status_code is StatusCode.UNSET and not status.description:
        return _UNSET_STATUS
    return _delimited(15, _string(2, status.description or "") + _uint(3, status.status_code.value))


def _trace_state(field: int, state: TraceState) -> bytes:
    """A non-empty trace state (the caller skips an empty one, as almost every span's is)."""
    return _string(field, ",".join(f"{key}={value}" for key, value in state.items()))


#: ``Span.start_time_unix_nano`` (field 7) and ``end_time_unix_nano`` (8), both fixed64.
_TIMES = struct.Struct("<BQBQ")
#: ``Span.name`` (field 5) and ``Span.kind`` (6) as encoded, by name and kind: names are
#: route and command templates, so they repeat; bounded like the attribute pairs.
_names: dict[tuple[str, SpanKind], bytes] = {}


def _name_and_kind(name: str, kind: SpanKind) -> bytes:
    encoded = _names.get((name, kind))
    if encoded is None:
        if len(_names) >= PAIR_CACHE_SIZE:
            _names.clear()
        encoded = _names[(name, kind)] = _string(5, name) + _uint(6, _KIND[kind])
    return encoded


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    assert context is not None
    parent = span.parent
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
    ]
    if context.trace_state:
        parts.append(_trace_state(3, context.trace_state))
    if parent:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    parts.append(_name_and_kind(span.name, span.kind))
    parts.append(_TIMES.pack(0x39, span.start_time or 0, 0x41, span.end_time or 0))
    parts.append(_attributes(9, span.attributes))
    dropped = span.dropped_attributes, span.dropped_events, span.dropped_links
    if any(dropped):
        parts.append(_uint(10, dropped[0]) + _uint(12, dropped[1]) + _uint(14, dropped[2]))
    parts.append(_status(span.status))
    parts.append(_REMOTE_FLAGS if parent is not None and parent.is_remote else _LOCAL_FLAGS)
    for event in span.events:
        parts.append(
            _delimited(
                11,
                b"\x09"
                + _FIXED64.pack(event.timestamp)
                + _string(2, event.name)
                + _attributes(3, event.attributes)
                + _uint(4, event.dropped_attributes),
            )
        )
    for link in span.links:
        parts.append(
            _delimited(
                13,
                b"\x0a\x10"
                + link.context.trace_id.to_bytes(16, "big")
                + b"\x12\x08"
                + link.context.span_id.to_bytes(8, "big")
                + _attributes(4, link.attributes)
                + _uint(5, link.dropped_attributes)
                + b"\x35"  # field 6, fixed32: the same value as a span's flags
                + (_REMOTE_FLAGS if link.context.is_remote else _LOCAL_FLAGS)[2:],
            )
        )
    return b"".join(parts)


class _Encoded:
    """The resource and scope last seen, encoded: a process has one of each, or a few."""

    def __init__(self) -> None:
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}

    def resource(self, resource: Resource) -> bytes:
        known = self._resources.get(id(resource))
        if known is None or known[0] is not resource:
            known = (resource, _delimited(1, _attributes(1, resource.attributes)))
            self._resources[id(resource)] = known
        return known[1]

    def scope(self, scope: InstrumentationScope | None) -> bytes:
        known = self._scopes.get(id(scope))
        if known is None or known[0] is not scope:
            payload = b""
            if scope is not None:
                payload = (
                    _string(1, scope.name)
                    + _string(2, scope.version or "")
                    + _attributes(3, scope.attributes)
                )
            known = (scope, _delimited(1, payload))
            self._scopes[id(scope)] = known
        return known[1]


_encoded = _Encoded()


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """A serialized ``ExportTraceServiceRequest``: spans grouped by resource, then by
    instrumentation scope, as the SDK's encoder groups them."""
    grouped: dict[int, tuple[Resource, dict[int, tuple[InstrumentationScope | None, list[bytes]]]]]
    grouped = {}
    for span in spans:
        resource = span.resource
        scope = span.instrumentation_scope or None
        scopes = grouped.setdefault(id(resource), (resource, {}))[1]
        scopes.setdefault(id(scope), (scope, []))[1].append(_delimited(2, _span(span)))
    out = []
    for resource, scopes in grouped.values():
        scope_spans = [
            _delimited(
                2,
                _encoded.scope(scope)
                + b"".join(encoded)
                + _string(3, (scope.schema_url if scope else None) or ""),
            )
            for scope, encoded in scopes.values()
        ]
        out.append(
            _delimited(
                1,
                _encoded.resource(resource)
                + b"".join(scope_spans)
                + _string(3, resource.schema_url or ""),
            )
        )
    return b"".join(out)


class OTLPSpanExporter(SdkOTLPSpanExporter):
    """The SDK's OTLP/HTTP exporter (configured by the same ``OTEL_EXPORTER_OTLP_*``
    variables, sending, retrying and counting the same way), encoding with
    :func:`encode_spans`. ``export`` follows the SDK's step for step; only the encoder differs."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return super().export(spans)  # logs and refuses, as the SDK's does
        with self._metrics.export_operation(len(spans)) as result:
            try:
                serialized = encode_spans(spans)
            except Exception as error:  # the SDK's contract: a failed export, never a raise
                log.error("Failed to encode span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if _is_request_too_large(serialized, self._max_request_size):
                log.warning(
                    "Dropping span batch: serialized size %d bytes exceeds max_request_size "
                    "%d bytes.",
                    len(serialized),
                    self._max_request_size,
                )
                result.error = RequestPayloadTooLargeError(
                    f"Serialized span request size {len(serialized)} bytes exceeds "
                    f"max_request_size {self._max_request_size} bytes."
                )
                return SpanExportResult.FAILURE
            exported = self._client.export(serialized)
            if not exported.success:
                result.error = exported.error
                if exported.status_code is not None:
                    result.error_attrs = {HTTP_RESPONSE_STATUS_CODE: exported.status_code}
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


__all__ = ["PAIR_CACHE_SIZE", "OTLPSpanExporter", "encode_spans"]
