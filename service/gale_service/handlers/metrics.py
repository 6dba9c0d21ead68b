"""``/metrics``: the Prometheus exposition of the service's own registry.

A plain ``RequestHandler``, not an API handler: scrapes are not API traffic, so they are not
counted in flight, authenticated, rate limited or traced. ``GALE_METRICS_PORT`` moves it to a
port of its own, kept off the public one.

Like every other response it carries the security headers and passes the Host allow-list,
on either port, with one addition: a ``Host`` that is an IP address is admitted, because that
is what Prometheus sends when it scrapes a pod by its IP (a ServiceMonitor does), and a DNS
rebinding attack can never produce one (the browser sends the attacker's host name).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from prometheus_client.exposition import choose_encoder
from tornado.web import RequestHandler

from gale_service.problems import PROBLEM_JSON, Problem
from gale_service.security.headers import set_security_headers
from gale_service.security.hosts import HostAllowList, host_name
from gale_service.telemetry.metrics import REGISTRY


def is_ip_literal(host_header: str) -> bool:
    try:
        ipaddress.ip_address(host_name(host_header).strip("[]"))
    except ValueError:
        return False
    return True


class MetricsHandler(RequestHandler):
    def initialize(self, route: str = "/metrics", *, hosts: HostAllowList, **_: Any) -> None:
        self.route = route
        self.hosts = hosts

    def set_default_headers(self) -> None:
        set_security_headers(self)

    def prepare(self) -> None:
        host = self.request.host
        if not (self.hosts.allows(host) or is_ip_literal(host)):
            raise Problem(
                400,
                f"host {host!r} is not served here (GALE_ALLOWED_HOSTS)",
                slug="host-not-allowed",
            )

    def get(self) -> None:
        encode, content_type = choose_encoder(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-store")
        self.finish(encode(REGISTRY))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        problem = error if isinstance(error, Problem) else Problem(status_code, "scrape failed")
        self.set_status(problem.status_code)
        self.set_header("Content-Type", f"{PROBLEM_JSON}; charset=UTF-8")
        self.finish(json.dumps(problem.body(instance=self.request.path)))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, Problem):
            return
        super().log_exception(typ, value, tb)
