"""Kubernetes probes: ``/livez``, ``/readyz`` and ``/startupz``."""

from __future__ import annotations

from gale_service.handlers.base import ApiHandler
from gale_service.health import Health


class ProbeHandler(ApiHandler):
    @property
    def health(self) -> Health:
        return self.services.health

    def answer(self, ok: bool, reason: str) -> None:
        self.set_header("Cache-Control", "no-store")
        self.write_json(
            {"status": "ok" if ok else "unavailable", "reason": reason}, status=200 if ok else 503
        )


class LivenessHandler(ProbeHandler):
    """Answering at all proves the event loop is turning; it never checks dependencies,
    so a database outage does not make Kubernetes restart healthy pods."""

    def get(self) -> None:
        self.answer(True, "event loop responsive")


class ReadinessHandler(ProbeHandler):
    def get(self) -> None:
        self.answer(*self.health.readiness())


class StartupHandler(ProbeHandler):
    def get(self) -> None:
        started = self.health.started
        self.answer(started, "migrations applied" if started else "migrations running")
