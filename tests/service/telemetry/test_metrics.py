"""``/metrics`` of a live service: request, DB, pool and process metrics with bounded labels."""

from __future__ import annotations

from typing import Any

import pytest
from gale_service.telemetry import metrics
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient

from tests.mongo import SecantusServer
from tests.ports import free_port
from tests.service.harness import LiveService, live_service
from tests.service.telemetry_harness import ROUND_TRIP_ROUTE, add_test_routes

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(service: LiveService) -> Samples:
    response = await service.fetch("/metrics")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(response.body.decode())


async def test_requests_and_db_operations_are_measured(service: LiveService, driver: str) -> None:
    add_test_routes(service)
    before = await scrape(service)
    for name in ("a", "b", "c"):
        assert (await service.fetch(f"/test/round-trip/{name}")).code == 200
    assert (await service.fetch("/test/failing")).code == 500
    after = await scrape(service)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"http_request_method": "GET", "http_route": ROUND_TRIP_ROUTE}
    count = "http_server_request_duration_seconds_count"
    assert delta(count, **ok, http_response_status_class="2xx") == 3
    failed = {"http_route": "/test/failing", "http_response_status_class": "5xx"}
    assert delta(count, http_request_method="GET", **failed) == 1
    bucket = "http_server_request_duration_seconds_bucket"
    assert delta(bucket, **ok, http_response_status_class="2xx", le="+Inf") == 3
    bounds = {dict(labels)["le"] for (name, labels) in after if name == bucket}
    assert bounds == {
        "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0",
        "2.5", "5.0", "7.5", "10.0", "+Inf",
    }  # fmt: skip
    db = "db_client_operation_duration_seconds_count"
    assert delta(db, db_operation_name="insert", db_collection_name="items") == 3
    assert delta(db, db_operation_name="find", db_collection_name="items") >= 4
    assert value(after, db, db_operation_name="ping", db_collection_name="") > 0, "health pings"
    # Scrapes and probes are not requests of the API.
    assert not [
        labels for (name, labels) in after if name == count and ("http_route", "/metrics") in labels
    ]

    assert (
        value(after, "db_client_connection_max") >= service.services.settings.mongodb_max_pool_size
    )
    used, idle = (value(after, "db_client_connection_count", state=s) for s in ("used", "idle"))
    assert used >= 0
    assert used + idle >= 1
    assert value(after, "http_server_active_requests") <= 1, "nothing but the scrape itself"
    assert value(after, "gale_ready") == 1
    build = [dict(labels) for (name, labels) in after if name == "gale_build_info"]
    assert [b["driver"] for b in build] == [driver]


async def test_unknown_paths_collapse_into_one_route_label(service: LiveService) -> None:
    for index in range(5):
        await service.fetch(f"/no/such/path/{index}")
    samples = await scrape(service)
    routes = {
        dict(labels)["http_route"]
        for (name, labels) in samples
        if name == "http_server_request_duration_seconds_count"
    }
    assert "unmatched" in routes
    assert not [route for route in routes if route.startswith("/no/")]


async def test_event_loop_lag_sees_a_blocked_loop(service: LiveService) -> None:
    import asyncio
    import time

    await asyncio.sleep(0.1)
    time.sleep(0.3)  # blocks the loop, as a synchronous call in a handler would
    await asyncio.sleep(0.5)  # more checks: the worst of the window is still reported
    assert value(await scrape(service), "gale_event_loop_lag_seconds") >= 0.15


async def test_metrics_port_moves_metrics_off_the_public_port(
    mongo_server: SecantusServer,
) -> None:
    port = free_port()
    async with live_service(mongo_server.uri, metrics_port=port) as service:
        assert (await service.fetch("/metrics")).code == 404
        client = AsyncHTTPClient(force_instance=True)
        try:
            response = await client.fetch(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Accept": "application/openmetrics-text; version=1.0.0"},
            )
        finally:
            client.close()
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert b"# TYPE gale_build_info gauge" in response.body
        assert response.body.rstrip().endswith(b"# EOF")


@pytest.mark.parametrize(
    ("record", "argument"),
    [(metrics.record_rejection, "teapot"), (metrics.websocket_message, "sideways")],
)
def test_labels_outside_the_contract_are_refused(record: Any, argument: str) -> None:
    with pytest.raises(ValueError, match="one of"):
        record(argument)


def test_rejections_and_websockets_are_counted_by_contract_labels() -> None:
    def read(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    before = read("gale_rejected_requests_total", reason="shed")
    metrics.record_rejection("shed")
    assert read("gale_rejected_requests_total", reason="shed") == before + 1
    sent = read("gale_websocket_messages_total", direction="out")
    metrics.websocket_message("out")
    assert read("gale_websocket_messages_total", direction="out") == sent + 1
    open_now = read("gale_websocket_connections")
    metrics.websocket_opened()
    assert read("gale_websocket_connections") == open_now + 1
    metrics.websocket_closed()
    assert read("gale_websocket_connections") == open_now
    assert metrics.method_label("BREW") == "_OTHER"


@pytest.mark.parametrize("own_port", [False, True], ids=["public port", "GALE_METRICS_PORT"])
async def test_metrics_answers_are_hardened_like_every_other(
    mongo_server: SecantusServer, own_port: bool
) -> None:
    """Security headers and the Host allow-list on either port; a pod-IP Host (a scrape by
    a ServiceMonitor) is admitted, an unknown name is not."""
    port = free_port() if own_port else None
    async with live_service(mongo_server.uri, metrics_port=port) as service:
        base = f"http://127.0.0.1:{port}" if own_port else service.base_url
        client = AsyncHTTPClient(force_instance=True)
        try:
            answers = {
                host: await client.fetch(
                    f"{base}/metrics", headers={"Host": host}, raise_error=False
                )
                for host in ("127.0.0.1", "10.1.2.3:8888", "[fd00::7]:8888", "evil.example")
            }
        finally:
            client.close()
        for host, response in answers.items():
            assert response.headers["X-Content-Type-Options"] == "nosniff", host
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert [answers[h].code for h in ("127.0.0.1", "10.1.2.3:8888", "[fd00::7]:8888")] == [
            200,
            200,
            200,
        ]
        refused = answers["evil.example"]
        assert refused.code == 400
        assert refused.headers["Content-Type"].startswith("application/problem+json")


def test_request_labels_stay_bounded_for_any_method_or_status() -> None:
    """The label children are remembered by raw values only for standard methods and real
    statuses, so a client sending made-up methods cannot grow the table."""
    before = parse(metrics.exposition()[0].decode())
    for number in range(50):
        metrics.observe_request(method=f"BREW{number}", route="/t", status=418, seconds=0.001)
    metrics.observe_request(method="GET", route="/t", status=204, seconds=0.001)
    metrics.observe_request(method="GET", route="/t", status=201, seconds=0.001)
    after = parse(metrics.exposition()[0].decode())
    count = "http_server_request_duration_seconds_count"

    def delta(**labels: str) -> float:
        return value(after, count, **labels) - value(before, count, **labels)

    assert (
        delta(http_request_method="_OTHER", http_route="/t", http_response_status_class="4xx") == 50
    )
    assert delta(http_request_method="GET", http_route="/t", http_response_status_class="2xx") == 2
    assert not [key for key in metrics._REQUEST_CHILDREN if str(key[0]).startswith("BREW")]
