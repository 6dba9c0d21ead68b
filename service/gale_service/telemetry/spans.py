"""The SDK's tracer provider, with lean spans for Gale's own instrumentation.

A sampled request makes two spans (the request's and its ``find``'s). The SDK's span costs
~19 µs to start and end in-process: bounded containers for attributes, events and links,
every attribute cleaned through a chain of calls, a copy of the span for the processors. With
every request traced, that was the largest part of what tracing cost the main thread.

:class:`Span` is still the SDK's span class. Its own methods set the status, rename, record
exceptions and end it in a ``with`` block. Attributes, events, links and ``end`` are done here
with the SDK's semantics:
- limits from ``OTEL_*_LIMIT``, and dropped counts;
- the same cleaning of odd keys and values, done by the SDK's own ``BoundedAttributes``;
- the same order when a key is set again.

Plain ``str``/``bool``/``int``/``float`` values go straight into a dict. Event and link
containers are made only when a span has some. Processors get the span itself once it has
ended; from then on it refuses changes.

Everything else stays the SDK's: the sampler, the id generator, the resource, the processors
and exporters, and ``OTEL_SDK_DISABLED``. Only tracers of this package's own scopes
(``gale_service``, ``gale_service.db``) hand out lean spans; any other instrumentation gets
the SDK's tracer. The tests drive the same calls through both and compare what is exported.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from time import time_ns
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags
from opentelemetry.util import types

log = logging.getLogger(__name__)

#: The root of this package's tracer names: their tracers are lean.
OWN_SCOPE = __name__.split(".", 1)[0]
#: Exact types taken as they are (subclasses such as enums go through the SDK's cleaning).
_PLAIN = frozenset({str, bool, int, float})


def _is_valid_link(context: SpanContext, attributes: types.Attributes) -> bool:
    """The SDK's rule: a link needs a valid context, or attributes or a trace state."""
    return bool(context and (context.is_valid or (attributes or context.trace_state)))


class Span(sdk_trace.Span):
    """The SDK's span with a leaner inside (see the module's docstring): processors get the
    type they are written for. The SDK's constructor is not run; its fields are set here."""

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: types.Attributes,
        links: Sequence[Link],
        start_time: int | None,
        *,
        record_exception: bool,
        set_status_on_exception: bool,
    ) -> None:
        ReadableSpan.__init__(
            self,
            name=name,
            context=context,
            parent=parent,
            resource=tracer.resource,
            kind=kind,
            start_time=time_ns() if start_time is None else start_time,
            instrumentation_scope=tracer.scope,
        )
        self._span_processor = tracer.processor
        self._limits = tracer.limits
        self._lock = threading.Lock()
        self._record_exception = record_exception
        self._set_status_on_exception = set_status_on_exception
        self._dropped = 0
        self._attributes: dict[str, Any] = {}
        if attributes:
            self._set_items(attributes)
        if links:
            self._links = BoundedList.from_seq(
                self._limits.max_links,
                [
                    self._bounded_link(link.context, link.attributes)
                    for link in links
                    if link and _is_valid_link(link.context, link.attributes)
                ],
            )

    @property
    def dropped_attributes(self) -> int:
        return self._dropped

    def _ended(self, operation: str) -> bool:
        """Whether the span has ended (the caller holds the lock); warns as the SDK does."""
        if self._end_time is None:
            return False
        log.warning("Tried calling %s on an ended span.", operation)
        return True

    def _put(self, key: str, value: Any) -> None:
        """Store a clean pair: a key set again moves last, a full span drops its oldest."""
        attributes = self._attributes
        if key in attributes:
            del attributes[key]
        limit = self._limits.max_span_attributes
        if limit is not None and len(attributes) >= limit:
            log.warning("Attributes dict is full. Dropping the oldest key-value pair.")
            del attributes[next(iter(attributes))]
            self._dropped += 1
        attributes[key] = value

    def _plain(self, key: Any, value: Any) -> bool:
        """Whether the pair is stored as it is: a plain value under a non-empty string key,
        within the length limit."""
        kind = type(value)
        if kind not in _PLAIN or type(key) is not str or not key:
            return False
        longest = self._limits.max_span_attribute_length
        return longest is None or kind is not str or len(value) <= longest

    def _set_items(self, attributes: Mapping[str, Any]) -> None:
        limit = self._limits.max_span_attributes
        if limit == 0:
            self._dropped += len(attributes)
            return
        stored = self._attributes
        for key, value in attributes.items():
            if self._plain(key, value):
                if key not in stored and (limit is None or len(stored) < limit):
                    stored[key] = value
                else:
                    self._put(key, value)
                continue
            # The SDK's cleaning of a mapping (keys made strings, values cleaned or dropped).
            self._put_cleaned(
                BoundedAttributes(
                    None, {key: value}, max_value_len=self._limits.max_span_attribute_length
                )
            )

    def _put_cleaned(self, cleaned: BoundedAttributes) -> None:
        """Store what the SDK's cleaning kept, and count what it dropped."""
        self._dropped += cleaned.dropped
        for key, value in cleaned.items():
            self._put(key, value)

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        with self._lock:
            if self._end_time is not None:
                log.warning("Setting attribute on ended span.")
                return
            self._set_items(attributes)

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        with self._lock:
            if self._end_time is not None:
                log.warning("Setting attribute on ended span.")
                return
            if self._limits.max_span_attributes == 0:
                self._dropped += 1
            elif self._plain(key, value):
                self._put(key, value)
            else:
                # The SDK's cleaning of one attribute (a key that is no string is dropped).
                cleaned = BoundedAttributes(
                    None, immutable=False, max_value_len=self._limits.max_span_attribute_length
                )
                cleaned[key] = value
                self._put_cleaned(cleaned)

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        limits = self._limits
        event = Event(
            name=name,
            attributes=BoundedAttributes(
                limits.max_event_attributes,
                attributes,
                max_value_len=limits.max_attribute_length,
                immutable=True,
            ),
            timestamp=timestamp,
        )
        with self._lock:
            if self._ended("add_event"):
                return
            if not isinstance(self._events, BoundedList):
                self._events = BoundedList(limits.max_events)
            self._events.append(event)

    def _bounded_link(self, context: SpanContext, attributes: types.Attributes) -> Link:
        return Link(
            context,
            BoundedAttributes(
                self._limits.max_link_attributes,
                attributes,
                max_value_len=self._limits.max_attribute_length,
                immutable=True,
            ),
        )

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if not _is_valid_link(context, attributes):
            return
        link = self._bounded_link(context, attributes)
        with self._lock:
            if self._ended("add_link"):
                return
            if not isinstance(self._links, BoundedList):
                self._links = BoundedList(self._limits.max_links)
            self._links.append(link)

    def end(self, end_time: int | None = None) -> None:
        with self._lock:
            if self._end_time is not None:
                log.warning("Calling end() on an ended span.")
                return
            self._end_time = time_ns() if end_time is None else end_time
        processor = self._span_processor
        processor._on_ending(self)  # the SDK's (experimental) hook, called as its span does
        processor.on_end(self)


class Tracer(trace_api.Tracer):
    """Starts :class:`Span` s with the provider's sampler, ids, resource and processors, as
    the SDK's tracer does."""

    def __init__(self, provider: TracerProvider, scope: InstrumentationScope) -> None:
        self.sampler = provider.sampler
        self.id_generator = provider.id_generator
        self.resource = provider.resource
        self.processor = provider.processors
        self.limits = provider.limits
        self.scope = scope

    def start_span(
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        links = links or ()
        parent: SpanContext | None = trace_api.get_current_span(context).get_span_context()
        if parent is not None and not isinstance(parent, SpanContext):
            raise TypeError("parent_span_context must be a SpanContext or None.")
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = self.id_generator.generate_trace_id()
            random_id = self.id_generator.is_trace_id_random()
        else:
            trace_id = parent.trace_id
            random_id = parent.trace_flags.random_trace_id
        sampling = self.sampler.should_sample(context, trace_id, name, kind, attributes, links)
        decision = sampling.decision
        flags = TraceFlags.SAMPLED if decision is Decision.RECORD_AND_SAMPLE else TraceFlags.DEFAULT
        if random_id:
            flags |= TraceFlags.RANDOM_TRACE_ID
        span_context = SpanContext(
            trace_id,
            self.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=sampling.trace_state,
        )
        if decision is Decision.DROP:
            return trace_api.NonRecordingSpan(span_context)
        span = Span(
            self,
            name,
            span_context,
            parent,
            kind,
            sampling.attributes,
            links,
            start_time,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        )
        self.processor.on_start(span, parent_context=context)
        return span

    @contextmanager
    def start_as_current_span(  # type: ignore[override]  # the API's own context manager type
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace_api.Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        )
        with trace_api.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class TracerProvider(sdk_trace.TracerProvider):
    """The SDK's provider (same ``OTEL_*`` configuration, same processors), handing out a
    lean :class:`Tracer` for this package's own instrumentation scopes."""

    def __init__(
        self,
        *,
        resource: Resource | None = None,
        sampler: Sampler | None = None,
        id_generator: IdGenerator | None = None,
    ) -> None:
        #: Passed to the SDK's provider, so ``add_span_processor`` adds to this very one.
        self.processors = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
        self.limits = SpanLimits()
        super().__init__(
            sampler=sampler,
            resource=resource,
            active_span_processor=self.processors,
            id_generator=id_generator,
            span_limits=self.limits,
        )
        self._lean: dict[InstrumentationScope, Tracer] = {}
        self._lean_lock = threading.Lock()

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes = None,
    ) -> trace_api.Tracer:
        tracer = super().get_tracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )
        name = instrumenting_module_name or ""
        if not isinstance(tracer, sdk_trace.Tracer) or name.split(".", 1)[0] != OWN_SCOPE:
            return tracer
        scope = InstrumentationScope(
            name, instrumenting_library_version or "", schema_url, attributes
        )
        with self._lean_lock:
            return self._lean.setdefault(scope, Tracer(self, scope))


__all__ = ["OWN_SCOPE", "Span", "Tracer", "TracerProvider"]
