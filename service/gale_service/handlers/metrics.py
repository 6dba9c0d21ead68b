"""``/metrics``: the Prometheus exposition of the service's own registry.

A plain ``RequestHandler``, not an API handler: scrapes are not API traffic, so they are not
counted in flight, authenticated, rate limited or traced. ``GALE_METRICS_PORT`` moves it to a
port of its own, kept off the public one.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.exposition import choose_encoder
from tornado.web import RequestHandler

from gale_service.telemetry.metrics import REGISTRY


class MetricsHandler(RequestHandler):
    def initialize(self, route: str = "/metrics", **_: Any) -> None:
        self.route = route

    def get(self) -> None:
        encode, content_type = choose_encoder(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-store")
        self.finish(encode(REGISTRY))
