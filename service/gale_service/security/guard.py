"""The checks every request passes before its handler runs, in the order that is cheapest
and most telling first: Host allow-list, load shedding, then rate limits.

A refusal is raised as a :class:`~gale_service.problems.Problem`, so it reaches the client as
problem+json with ``Retry-After`` like every other error, and is counted by reason. Probes
and scrapes are exempt (their endpoints are declared ``exempt``): kubelet uses the pod IP as
Host, and a probe must never be limited or shed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gale_service.problems import Problem
from gale_service.security.client_ip import Network, parse_networks
from gale_service.security.hosts import HostAllowList
from gale_service.security.ratelimit import RateLimiter, rate_limit_headers
from gale_service.settings import Settings
from gale_service.telemetry.metrics import record_rejection

SHED_RETRY_AFTER_SECONDS = "1"


@dataclass
class Guard:
    hosts: HostAllowList
    trusted_proxies: tuple[Network, ...]
    per_ip: RateLimiter
    per_user: RateLimiter
    login: RateLimiter
    max_in_flight: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        return cls(
            hosts=HostAllowList(settings.allowed_hosts),
            trusted_proxies=parse_networks(settings.trusted_proxies),
            per_ip=RateLimiter(
                name="ip",
                burst=settings.rate_limit_ip_burst,
                per_second=settings.rate_limit_ip_per_second,
            ),
            per_user=RateLimiter(
                name="user",
                burst=settings.rate_limit_user_burst,
                per_second=settings.rate_limit_user_per_second,
            ),
            login=RateLimiter(
                name="login",
                burst=settings.rate_limit_login_burst,
                per_second=settings.rate_limit_login_per_second,
            ),
            max_in_flight=settings.max_in_flight_requests,
        )

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Tests drive every bucket from one fake clock."""
        for limiter in (self.per_ip, self.per_user, self.login):
            limiter.clock = clock

    def check_host(self, host_header: str) -> None:
        if not self.hosts.allows(host_header):
            raise Problem(
                400,
                f"host {host_header!r} is not served here (GALE_ALLOWED_HOSTS)",
                slug="host-not-allowed",
            )

    def check_load(self, in_flight: int) -> None:
        """Shed above ``max_in_flight``: a quick 503 beats a slow timeout for everyone."""
        if in_flight > self.max_in_flight:
            record_rejection("shed")
            raise Problem(
                503,
                "the service is overloaded; retry shortly",
                slug="overloaded",
                headers={"Retry-After": SHED_RETRY_AFTER_SECONDS},
            )

    def check_rate(self, limiter: RateLimiter, key: str) -> dict[str, str]:
        """Take a token from ``limiter[key]``; the headers to send, or 429 when empty."""
        decision = limiter.take(key)
        headers = rate_limit_headers(limiter, decision)
        if not decision.allowed:
            record_rejection("rate_limited")
            raise Problem(
                429,
                f"too many requests ({limiter.name} limit); retry after {headers['Retry-After']} s",
                slug="rate-limited",
                headers=headers,
            )
        return headers
