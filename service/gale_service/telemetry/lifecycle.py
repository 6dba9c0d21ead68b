"""What telemetry does when the service starts and stops: gauges bound, loop lag watched,
and ``/metrics`` served on its own port when ``GALE_METRICS_PORT`` asks for one."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from gale_service.telemetry import metrics
from gale_service.telemetry.loop_lag import LoopLagMonitor


def service_version() -> str:
    try:
        return version("gale")
    except PackageNotFoundError:
        return "unknown"


class ServiceTelemetry:
    """Binds the scrape-time gauges to the running service and owns the loop-lag watcher."""

    def __init__(
        self,
        *,
        driver: str,
        in_flight: Callable[[], float],
        ready: Callable[[], bool],
    ) -> None:
        self._loop_lag = LoopLagMonitor()
        self._metrics_server: HTTPServer | None = None
        metrics.set_build_info(version=service_version(), driver=driver)
        metrics.track_in_flight(in_flight)
        metrics.track_readiness(ready)

    def serve_metrics(self, app: Application, *, host: str, port: int, reuse_port: bool) -> None:
        """Serve ``app`` (``/metrics``) on a port of its own; forked workers share it."""
        self._metrics_server = HTTPServer(app)
        self._metrics_server.add_sockets(bind_sockets(port, host, reuse_port=reuse_port))

    def start(self) -> None:
        self._loop_lag.start()

    async def stop(self) -> None:
        await self._loop_lag.stop()
        if self._metrics_server is not None:
            self._metrics_server.stop()
            await self._metrics_server.close_all_connections()
            self._metrics_server = None
