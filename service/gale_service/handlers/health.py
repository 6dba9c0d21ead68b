"""Kubernetes probes: ``/livez``, ``/readyz`` and ``/startupz``.

Kubelet calls each probe on every pod every few seconds, so a plain ``GET`` of one is answered
by :class:`DirectProbe` straight from the connection, without creating a ``RequestHandler``
(a request task, ``prepare``, output transforms, ``finish``): the same status, body, headers
and access line for 0.7x the CPU (264 to 188 µs a request in ``make bench``). Any other
request of a probe (another method, a body, an ``Accept`` it cannot satisfy) goes to the
handler as usual, which answers it the usual way (405, 413, 406 as problem+json).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from http.client import responses

from tornado import httputil
from tornado.web import Application, OutputTransform

from gale_service.handlers.base import (
    ApiHandler,
    accepts,
    dump_json,
    request_id,
    response_headers,
)
from gale_service.health import Health
from gale_service.logs import access_line
from gale_service.services import services_of

JSON = "application/json; charset=UTF-8"


class ProbeHandler(ApiHandler):
    @staticmethod
    def verdict(health: Health) -> tuple[bool, str]:
        """Whether the probe passes, and why: all a probe's answer depends on."""
        raise NotImplementedError

    @property
    def health(self) -> Health:
        return self.services.health

    def get(self) -> None:
        ok, reason = self.verdict(self.health)
        self.set_header("Cache-Control", "no-store")
        self.write_json(body(ok, reason), status=200 if ok else 503)

    @classmethod
    def direct_delegate(
        cls, application: Application, request: httputil.HTTPServerRequest, route: str
    ) -> DirectProbe | None:
        """A :class:`DirectProbe` for a plain ``GET``; ``None`` sends the request to the
        handler."""
        headers = request.headers
        if request.method != "GET" or "Content-Length" in headers or "Transfer-Encoding" in headers:
            return None
        accept = headers.get("Accept")
        if accept and not accepts(accept, cls.produces):
            return None
        return DirectProbe(
            services_of(application).health,
            request,
            cls.verdict,
            route=route,
            transforms=application.transforms,
        )


def body(ok: bool, reason: str) -> dict[str, str]:
    return {"status": "ok" if ok else "unavailable", "reason": reason}


class LivenessHandler(ProbeHandler):
    """Answering at all proves the event loop is turning; it never checks dependencies,
    so a database outage does not make Kubernetes restart healthy pods."""

    @staticmethod
    def verdict(health: Health) -> tuple[bool, str]:
        return True, "event loop responsive"


class ReadinessHandler(ProbeHandler):
    @staticmethod
    def verdict(health: Health) -> tuple[bool, str]:
        return health.readiness()


class StartupHandler(ProbeHandler):
    @staticmethod
    def verdict(health: Health) -> tuple[bool, str]:
        started = health.started
        return started, "migrations applied" if started else "migrations running"


class DirectProbe(httputil.HTTPMessageDelegate):
    """Answers a probe's ``GET`` when the request has arrived, as :class:`ProbeHandler` would:
    the headers every response starts with (:func:`response_headers`), the request id, the
    probe's JSON through the application's output transforms, and the access line."""

    def __init__(
        self,
        health: Health,
        request: httputil.HTTPServerRequest,
        verdict: Callable[[Health], tuple[bool, str]],
        *,
        route: str,
        transforms: Sequence[Callable[[httputil.HTTPServerRequest], OutputTransform]],
    ) -> None:
        self._health = health
        self._request = request
        self._verdict = verdict
        self._route = route
        self._transforms = transforms

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return None

    def finish(self) -> None:
        request = self._request
        connection = request.connection
        assert connection is not None
        ok, reason = self._verdict(self._health)
        status = 200 if ok else 503
        payload = dump_json(body(ok, reason)).encode()
        rid = request_id(request.headers)
        headers = response_headers(tls=request.protocol == "https")
        headers["Content-Type"] = JSON
        headers["X-Request-ID"] = rid
        headers["Cache-Control"] = "no-store"
        headers["Content-Length"] = str(len(payload))
        head = httputil.HTTPHeaders(headers)
        for transform in self._transforms:  # built per request, as RequestHandler does
            status, head, payload = transform(request).transform_first_chunk(
                status, head, payload, True
            )
        start_line = httputil.ResponseStartLine("", status, responses[status])
        connection.write_headers(start_line, head, payload)
        connection.finish()
        access_line(
            method=request.method,
            route=self._route,
            status=status,
            seconds=request.request_time(),
            request_id=rid,
        )

    def on_connection_close(self) -> None:
        """Nothing was started: the answer is written in :meth:`finish` or not at all."""
