"""A real Prometheus scrapes a running service and finds its request-duration series."""

from __future__ import annotations

from pathlib import Path

from tornado.httpclient import AsyncHTTPClient

from tests.observability.prometheus_server import prometheus
from tests.observability.service_process import mongo, service_process
from tests.ports import free_port


async def test_prometheus_scrapes_the_metrics_port(tmp_path: Path) -> None:
    metrics_port = free_port()
    with (
        mongo(tmp_path) as db,
        service_process(
            mongodb_uri=db.uri, tmp=tmp_path, env={"GALE_METRICS_PORT": str(metrics_port)}
        ) as service,
    ):
        client = AsyncHTTPClient(force_instance=True)
        try:
            for _ in range(3):
                await client.fetch(f"{service.url}/no/such/page", raise_error=False)
        finally:
            client.close()
        with prometheus(jobs={"gale": f"127.0.0.1:{metrics_port}"}, tmp=tmp_path) as server:
            series = server.wait_for(
                'http_server_request_duration_seconds_count{job="gale", http_route="unmatched"}'
            )
            (target,) = server.targets()
            ready = server.wait_for('gale_ready{job="gale"} == 1')
            p99 = server.query(
                "histogram_quantile(0.99, sum by (le) "
                '(http_server_request_duration_seconds_bucket{job="gale"}))'
            )

    assert target["health"] == "up", target
    (sample,) = series
    assert sample["metric"]["http_request_method"] == "GET"
    assert sample["metric"]["http_response_status_class"] == "4xx"
    assert float(sample["value"][1]) == 3
    assert ready, "the service became ready and Prometheus saw it"
    assert 0 < float(p99[0]["value"][1]) <= 10
