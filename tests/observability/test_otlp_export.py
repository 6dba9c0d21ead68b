"""Spans really leave the process over OTLP/HTTP, configured by the standard variables only.

oteltap is the receiver: it listens on a loopback port, decodes what the SDK sends and hands
the spans to the test; it also re-emits each export request unchanged to a small collector
of our own, which is where the resource (service name, Kubernetes pod and namespace) is read.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from tests.observability.service_process import mongo, service_process
from tests.ports import free_port

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"


class ExportCollector(RequestHandler):
    def initialize(self, requests: list[ExportTraceServiceRequest]) -> None:
        self.requests = requests

    def post(self) -> None:
        body = self.request.body
        if self.request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.requests.append(ExportTraceServiceRequest.FromString(body))


@pytest.fixture
async def reemitted() -> AsyncIterator[tuple[str, list[ExportTraceServiceRequest]]]:
    requests: list[ExportTraceServiceRequest] = []
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(Application([(r"/v1/traces", ExportCollector, {"requests": requests})]))
    server.add_sockets(sockets)
    yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}/v1/traces", requests
    server.stop()


async def test_request_spans_reach_an_otlp_receiver(
    tmp_path: Path, reemitted: tuple[str, list[ExportTraceServiceRequest]]
) -> None:
    reemit_url, requests = reemitted
    receiver_port = free_port()
    settings = OtelTapHttpProtobufReceiverSettings(
        http_port=receiver_port, reemit_traces_to_url=reemit_url
    )
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver_port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=gale-tests",
        "OTEL_SERVICE_NAME": "gale-otlp-test",
        "OTEL_RESOURCE_ATTRIBUTES": "k8s.namespace.name=shop,deployment.environment.name=test",
        "K8S_POD_NAME": "gale-7d9f-abcde",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    async with OtelTapHttpProtobufReceiver(settings) as receiver:
        with (
            mongo(tmp_path) as db,
            service_process(mongodb_uri=db.uri, tmp=tmp_path, env=env) as service,
        ):
            client = AsyncHTTPClient(force_instance=True)
            try:
                # Ratio 0 samples no new trace, but a sampled caller's trace is continued.
                await client.fetch(f"{service.url}/api/v1/nowhere", raise_error=False)
                await client.fetch(
                    f"{service.url}/api/v1/items",
                    headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"},
                    raise_error=False,
                )
            finally:
                client.close()

            def continued(span: Span) -> bool:
                return span.trace_id.hex() == TRACE_ID and span.kind == Span.SPAN_KIND_SERVER

            span = await receiver.await_trace(continued, timeout=15)

    assert span.name == "GET /api/v1/items"
    assert span.parent_span_id.hex() == PARENT_SPAN_ID
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["http.route"].string_value == "/api/v1/items"
    assert attributes["http.request.method"].string_value == "GET"
    assert attributes["http.response.status_code"].int_value in {200, 401}

    exported = [
        (resource_spans.resource, span)
        for request in requests
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert [span.name for _, span in exported if span.kind == Span.SPAN_KIND_SERVER] == [
        "GET /api/v1/items"
    ], "the unsampled request was not exported"
    resource = {a.key: a.value.string_value for a in exported[0][0].attributes}
    assert resource["service.name"] == "gale-otlp-test"
    assert resource["k8s.namespace.name"] == "shop"
    assert resource["k8s.pod.name"] == "gale-7d9f-abcde"
    assert resource["service.version"]
