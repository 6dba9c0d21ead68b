"""Request spans and their MongoDB children, read from the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from tornado.websocket import websocket_connect

from tests.service import clients
from tests.service.harness import LiveService
from tests.service.telemetry_harness import (
    FAILING_ROUTE,
    ROUND_TRIP_ROUTE,
    SOCKET_ROUTE,
    STREAMING_ROUTE,
    add_test_routes,
    finished_spans,
    json_log_lines,
    span_exporter,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture(autouse=True)
def spans() -> None:
    span_exporter().clear()


def server_spans(name: str) -> list[ReadableSpan]:
    return [s for s in finished_spans() if s.kind is SpanKind.SERVER and s.name == name]


def children(parent: ReadableSpan) -> list[ReadableSpan]:
    span_id = parent.context.span_id
    return [s for s in finished_spans() if s.parent is not None and s.parent.span_id == span_id]


async def test_request_span_has_db_children_following_the_conventions(
    service: LiveService, driver: str
) -> None:
    add_test_routes(service)
    response = await service.fetch("/test/round-trip/widget?token=secret-value&page=2")
    assert response.code == 200

    (server,) = server_spans(f"GET {ROUND_TRIP_ROUTE}")
    attributes = dict(server.attributes or {})
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == ROUND_TRIP_ROUTE
    assert attributes["url.path"] == "/test/round-trip/widget"
    assert attributes["url.query"] == "token=REDACTED&page=2"
    assert attributes["url.scheme"] == "http"
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["network.protocol.version"] == "1.1"
    assert server.status.status_code is StatusCode.UNSET

    db_spans = children(server)
    by_name = {span.name: span for span in db_spans}
    assert {"insert items", "find items"} <= set(by_name), sorted(by_name)
    assert all(span.kind is SpanKind.CLIENT for span in db_spans)
    insert = dict(by_name["insert items"].attributes or {})
    assert insert["db.system.name"] == "mongodb"
    assert insert["db.collection.name"] == "items"
    assert insert["db.operation.name"] == "insert"
    assert insert["db.namespace"] == service.services.settings.mongodb_database
    assert insert["server.address"] == "127.0.0.1"
    # A transaction's commit has no collection: it is named after its database (admin).
    assert "commitTransaction admin" in by_name
    for span in db_spans:
        assert span.context.trace_id == server.context.trace_id
        assert server.start_time <= span.start_time <= span.end_time <= server.end_time


async def test_incoming_traceparent_and_tracestate_are_continued(service: LiveService) -> None:
    add_test_routes(service)
    response = await service.fetch(
        "/test/round-trip/continued",
        headers={
            "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01",
            "tracestate": "vendor=abc",
            "baggage": "tenant=acme",
        },
    )
    assert response.code == 200
    (server,) = server_spans(f"GET {ROUND_TRIP_ROUTE}")
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == PARENT_SPAN_ID
    assert server.parent.is_remote
    assert server.context.trace_state.get("vendor") == "abc"
    assert children(server), "the DB spans join the caller's trace too"
    # What the handler would send on: this trace, this span as parent, the caller's baggage.
    outgoing = json.loads(response.body)["outgoing"]
    assert outgoing["traceparent"] == f"00-{TRACE_ID}-{format(server.context.span_id, '016x')}-01"
    assert outgoing["baggage"] == "tenant=acme"


async def test_unknown_paths_are_one_bounded_span_name(service: LiveService) -> None:
    for path in ("/api/v1/nowhere", "/wp-admin/1", "/wp-admin/2"):
        assert (await service.fetch(path)).code == 404
    names = [s.name for s in finished_spans() if s.kind is SpanKind.SERVER]
    assert names == ["GET", "GET", "GET"]
    assert all("http.route" not in (s.attributes or {}) for s in finished_spans())


async def test_probes_and_metrics_are_not_traced(service: LiveService) -> None:
    for path in ("/livez", "/readyz", "/startupz", "/metrics"):
        assert (await service.fetch(path)).code in {200, 503}
    assert [s.name for s in finished_spans() if s.kind is SpanKind.SERVER] == []
    # Nor do the health monitor's pings become traces of their own.
    assert [s.name for s in finished_spans() if s.name.startswith("ping")] == []


async def test_sampled_out_parent_makes_no_spans(service: LiveService) -> None:
    add_test_routes(service)
    response = await service.fetch(
        "/test/round-trip/unsampled",
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-00"},
    )
    assert response.code == 200
    assert finished_spans() == []


async def test_websocket_messages_are_traces_linked_to_the_upgrade(service: LiveService) -> None:
    add_test_routes(service)
    socket = await websocket_connect(service.base_url.replace("http", "ws") + SOCKET_ROUTE)
    with json_log_lines() as lines:
        await socket.write_message("hello")
        assert await socket.read_message() == "hello"
    socket.close()

    (upgrade,) = server_spans(f"GET {SOCKET_ROUTE}")
    assert (upgrade.attributes or {})["http.response.status_code"] == 101
    (received,) = [s for s in finished_spans() if s.name == f"receive {SOCKET_ROUTE}"]
    (sent,) = [s for s in finished_spans() if s.name == f"send {SOCKET_ROUTE}"]
    assert received.kind is SpanKind.CONSUMER
    assert sent.kind is SpanKind.PRODUCER
    assert [link.context.span_id for link in received.links] == [upgrade.context.span_id]
    assert [link.context.span_id for link in sent.links] == [received.context.span_id]
    assert received.context.trace_id != upgrade.context.trace_id, "a trace per message"
    assert [s.name for s in children(received)] == ["find items"]
    (echo,) = [line for line in lines if line["logger"] == "tests.echo"]
    assert echo["trace_id"] == format(received.context.trace_id, "032x")


async def test_failed_db_command_marks_its_span(service: LiveService) -> None:
    add_test_routes(service)
    response = await service.fetch("/test/unknown-command")
    assert response.code == 200
    code = json.loads(response.body)["code"]
    (server,) = server_spans("GET /test/unknown-command")
    (failed,) = children(server)
    assert failed.name == f"galeNoSuchCommand {service.services.settings.mongodb_database}"
    assert failed.status.status_code is StatusCode.ERROR
    attributes = dict(failed.attributes or {})
    assert attributes["db.response.status_code"] == str(code)
    assert attributes["error.type"]
    assert server.status.status_code is StatusCode.UNSET, "handled: the request succeeded"


async def test_client_leaving_before_its_body_ends_the_span(service: LiveService) -> None:
    add_test_routes(service)
    port = int(service.base_url.rsplit(":", 1)[1])
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {FAILING_ROUTE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
        "only part".encode()
    )
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await writer.wait_closed()
    for _ in range(50):
        if server_spans(f"POST {FAILING_ROUTE}"):
            break
        await asyncio.sleep(0.02)
    (server,) = server_spans(f"POST {FAILING_ROUTE}")
    assert (server.attributes or {})["error.type"] == "connection_closed"


async def test_a_streaming_handler_runs_in_its_request_span_from_the_start(
    service: LiveService,
) -> None:
    """A ``@stream_request_body`` handler starts while the headers are handled: the span is
    current there too, not only for handlers that start once the body is in."""
    add_test_routes(service)
    response = await service.fetch(
        "/test/streaming",
        method="POST",
        body=b"x" * 100_000,
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"},
    )
    assert response.code == 200, response.body
    seen = json.loads(response.body)
    assert seen == {"bytes": 100_000, "prepare": TRACE_ID, "post": TRACE_ID}
    (server,) = server_spans(f"POST {STREAMING_ROUTE}")
    assert format(server.context.trace_id, "032x") == TRACE_ID


async def test_the_live_feed_socket_traces_each_client_message(service: LiveService) -> None:
    connection = await clients.connect(service, token=service.token_for("admin", is_admin=True))
    await clients.subscribe(connection)
    await clients.send(connection, {"type": "ping"})
    assert (await clients.frame(connection))["type"] == "pong"
    connection.close()

    received = [s for s in finished_spans() if s.name == "receive /api/v1/ws"]
    assert len(received) == 2, "one trace per client message (subscribe, ping)"
    assert all(s.kind is SpanKind.CONSUMER for s in received)
    assert len({s.context.trace_id for s in received}) == 2
