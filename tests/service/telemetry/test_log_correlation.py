"""Every JSON log line of a request carries its trace: the access line and, above all, the
error line and traceback of a request that failed."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests.service.harness import LiveService
from tests.service.telemetry_harness import (
    FAILING_ROUTE,
    ROUND_TRIP_ROUTE,
    add_test_routes,
    finished_spans,
    json_log_lines,
    span_exporter,
)


@pytest.fixture(autouse=True)
def spans() -> None:
    span_exporter().clear()


async def test_failed_request_logs_its_traceback_with_the_trace(service: LiveService) -> None:
    add_test_routes(service)
    with json_log_lines() as lines:
        response = await service.fetch(f"{FAILING_ROUTE}?access_token=hunter2")
    assert response.code == 500

    (server,) = [s for s in finished_spans() if s.kind is SpanKind.SERVER]
    trace_id = format(server.context.trace_id, "032x")
    span_id = format(server.context.span_id, "016x")
    (error,) = [line for line in lines if line["logger"] == "tornado.application"]
    assert error["level"] == "error"
    assert "RuntimeError: telemetry test failure" in error["exception"]
    assert (error["trace_id"], error["span_id"]) == (trace_id, span_id)
    assert "hunter2" not in error["message"], "secrets in the logged URL are scrubbed"
    (access,) = [line for line in lines if line["logger"] == "gale.access"]
    assert access["level"] == "error", "5xx access lines log at error"
    assert (access["route"], access["status"]) == (FAILING_ROUTE, 500)
    assert (access["trace_id"], access["span_id"]) == (trace_id, span_id)

    # The span itself says what failed, and its DB child ran before the failure.
    assert server.status.status_code is StatusCode.ERROR
    assert (server.attributes or {})["error.type"] == "RuntimeError"
    assert [event.name for event in server.events] == ["exception"]
    assert any(s.parent and s.parent.span_id == server.context.span_id for s in finished_spans())


async def test_lines_of_concurrent_requests_keep_their_own_trace(service: LiveService) -> None:
    add_test_routes(service)
    with json_log_lines() as lines:
        for name in ("a", "b"):
            assert (await service.fetch(f"/test/round-trip/{name}")).code == 200
    servers = [s for s in finished_spans() if s.kind is SpanKind.SERVER]
    access = [line for line in lines if line["logger"] == "gale.access"]
    assert [line["route"] for line in access] == [ROUND_TRIP_ROUTE] * 2
    assert [line["level"] for line in access] == ["info", "info"]
    assert {line["trace_id"] for line in access} == {
        format(span.context.trace_id, "032x") for span in servers
    }
    # Lines outside any request (the health monitor, the lifecycle) carry no trace.
    assert all("trace_id" not in line for line in lines if line["logger"] != "gale.access")
