"""The service's lifecycle: start, serve, and ``drain_then_stop`` on SIGTERM/SIGINT.

Shutdown order matters on Kubernetes: ``/readyz`` turns 503 at once so endpoints controllers
remove the pod, the server keeps serving for ``GALE_DRAIN_SECONDS`` while that propagates, then
stops accepting, waits for requests in flight up to the deadline, closes the DB client, exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from gale_service.app import Services, make_app, make_metrics_app
from gale_service.auth.authenticator import Authenticator
from gale_service.db import DatabaseUnavailable, connect
from gale_service.embedded_db import EmbeddedMongo
from gale_service.executors import Executors
from gale_service.health import Health
from gale_service.inflight import InFlight
from gale_service.intake import DISCARD_CAP_BYTES, RequestIntake
from gale_service.live.feed import LiveFeed
from gale_service.security.guard import Guard
from gale_service.settings import Settings
from gale_service.store import ItemStore, apply_migrations
from gale_service.store.users import UserStore
from gale_service.telemetry.db_monitoring import db_listeners
from gale_service.telemetry.lifecycle import ServiceTelemetry
from gale_service.tls import ReloadingTLS

log = logging.getLogger(__name__)
MIGRATION_RETRY_SECONDS = 1.0
STEP_TIMEOUT_SECONDS = 5.0


def make_server(services: Services, *, tls: ReloadingTLS | None = None) -> HTTPServer:
    """Tornado's HTTP server with limits chosen for an API behind a load balancer.

    Tornado's defaults (100 MiB bodies, an hour of idleness) suit neither: handlers see at most
    ``GALE_MAX_BODY_BYTES + 1`` bytes (:class:`RequestIntake`) so they answer 413 as problem+json,
    and idle keep-alive connections close after ``GALE_IDLE_CONNECTION_TIMEOUT_SECONDS``.
    ``xheaders`` (trusting ``X-Forwarded-For``) is only on when trusted proxies are configured.
    """
    settings = services.settings
    return HTTPServer(
        RequestIntake(
            make_app(services), limit=settings.max_body_bytes, inflight=services.inflight
        ),
        xheaders=bool(settings.trusted_proxies),
        max_body_size=max(DISCARD_CAP_BYTES, settings.max_body_bytes + 1),
        max_header_size=settings.max_header_bytes,
        idle_connection_timeout=settings.idle_connection_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        decompress_request=True,
        ssl_options=tls.context if tls is not None else None,
    )


async def _migrate_when_reachable(services: Services) -> None:
    while True:
        try:
            version = await apply_migrations(services.gateway)
            admin_password = services.settings.admin_password
            await services.auth.bootstrap_admin(
                username=services.settings.admin_username,
                password=admin_password.get_secret_value() if admin_password else None,
                announce=services.settings.is_dev,
            )
        except DatabaseUnavailable as error:
            log.warning("migrations waiting for the database", extra={"error": str(error)})
            await asyncio.sleep(MIGRATION_RETRY_SECONDS)
            continue
        services.health.started = True
        log.info("migrations applied", extra={"schema_version": version})
        return


@dataclass
class RunningService:
    """A started service: what ``drain_then_stop`` needs to take it down in order."""

    services: Services
    server: HTTPServer
    migrations: asyncio.Task[None]
    telemetry: ServiceTelemetry
    tls: ReloadingTLS | None = None


def create_services(settings: Settings, *, mongodb_uri: str) -> Services:
    gateway = connect(
        mongodb_uri,
        database=settings.mongodb_database,
        driver=settings.mongo_driver.value,
        max_pool_size=settings.mongodb_max_pool_size,
        min_pool_size=settings.mongodb_min_pool_size,
        server_selection_timeout_ms=settings.mongodb_server_selection_timeout_ms,
        connect_timeout_ms=settings.mongodb_connect_timeout_ms,
        timeout_ms=settings.mongodb_timeout_ms,
        write_concern=settings.mongodb_write_concern.value,
        journal=settings.mongodb_journal,
        event_listeners=db_listeners(),
    )
    store = ItemStore(gateway)
    executors = Executors(
        blocking_workers=settings.blocking_workers, cpu_workers=settings.cpu_workers
    )
    return Services(
        settings=settings,
        gateway=gateway,
        store=store,
        health=Health(),
        inflight=InFlight(),
        executors=executors,
        auth=Authenticator.from_settings(settings, users=UserStore(gateway), executors=executors),
        guard=Guard.from_settings(settings),
        feed=LiveFeed(
            store.events,
            gateway,
            poll_interval=settings.live_poll_interval_seconds,
            queue_size=settings.ws_send_queue_size,
        ),
    )


def start(
    services: Services, sockets: list[socket.socket], *, tls: ReloadingTLS | None = None
) -> RunningService:
    """Serve on ``sockets`` at once; migrations run in the background (``/startupz``).

    With ``tls``, serve HTTPS and follow rotations of the certificate files.
    """
    server = make_server(services, tls=tls)
    server.add_sockets(sockets)
    if tls is not None:
        tls.start()
    services.health.start_monitor(services.gateway)
    services.feed.start()
    telemetry = ServiceTelemetry(
        driver=services.gateway.driver,
        in_flight=lambda: services.inflight.count,
        ready=lambda: services.health.readiness()[0],
    )
    settings = services.settings
    if settings.metrics_port is not None:
        telemetry.serve_metrics(
            make_metrics_app(),
            host=settings.host,
            port=settings.metrics_port,
            reuse_port=settings.workers > 1,
        )
    telemetry.start()
    migrations = asyncio.get_running_loop().create_task(_migrate_when_reachable(services))
    return RunningService(
        services=services, server=server, migrations=migrations, telemetry=telemetry, tls=tls
    )


async def drain_then_stop(running: RunningService) -> None:
    services, server = running.services, running.server
    settings = services.settings
    running.migrations.cancel()
    services.health.draining = True
    # WebSocket clients get 1001 now, while the pod still serves: they reconnect elsewhere.
    services.feed.close_all()
    log.info("draining", extra={"drain_seconds": settings.drain_seconds})
    await asyncio.sleep(settings.drain_seconds)
    server.stop()
    finished = await services.inflight.wait_idle(deadline=settings.shutdown_timeout_seconds)
    if not finished:
        log.warning("shutdown deadline passed", extra={"in_flight": services.inflight.count})
    await _bounded("close connections", server.close_all_connections())
    await _bounded("health monitor", services.health.stop_monitor())
    await _bounded("live feed", services.feed.stop())
    await _bounded("telemetry", running.telemetry.stop())
    if running.tls is not None:
        await _bounded("TLS reload", running.tls.stop())
    await _bounded("database client", services.gateway.close())
    services.executors.shutdown()
    log.info("stopped")


async def _bounded(step: str, work: Awaitable[None]) -> None:
    """One shutdown step, given at most :data:`STEP_TIMEOUT_SECONDS`.

    A step stuck on a peer (a change-stream read the server never answers, a client that
    never reads) must not keep the process from exiting: Kubernetes would SIGKILL it at the
    end of the grace period anyway, without the remaining steps' clean-up.
    """
    try:
        async with asyncio.timeout(STEP_TIMEOUT_SECONDS):
            await work
    except TimeoutError:
        log.warning("shutdown step timed out", extra={"step": step})


async def serve(
    settings: Settings,
    sockets: list[socket.socket],
    *,
    mongodb_uri: str,
    tls: ReloadingTLS | None = None,
) -> None:
    running = start(create_services(settings, mongodb_uri=mongodb_uri), sockets, tls=tls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    host, port = sockets[0].getsockname()[:2]
    log.info(
        "listening",
        extra={
            "url": f"{'https' if tls else 'http'}://{host}:{port}",
            "driver": running.services.gateway.driver,
        },
    )
    await stop.wait()
    await drain_then_stop(running)


def _forward_stop_signals_to_workers() -> None:
    """Make SIGTERM/SIGINT sent to the parent of forked workers drain the workers.

    Tornado's ``fork_processes`` parent only waits for its children; by default a SIGTERM
    would kill it at once and leave the workers (and the dev database) running. Instead the
    parent leads a process group of its own and passes the signal on to that group: each
    worker drains and exits 0, after which ``fork_processes`` exits 0 and the parent stops
    the dev database. The workers replace this handler with their own when they start serving.
    """

    def forward(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_IGN)
        os.killpg(os.getpgrp(), signum)

    with contextlib.suppress(OSError):  # already a session or group leader (systemd, a shell)
        os.setpgid(0, 0)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """``GALE_EVENT_LOOP``: uvloop by default (the same Tornado code on libuv: 5-9 % less CPU
    per request in ``make bench``), the standard library's loop when asked for."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(settings: Settings) -> None:
    """Bind, start the embedded database in dev if needed, fork workers if asked, serve.

    TLS material is loaded before anything starts, so a bad certificate fails the start
    (:class:`TLSMaterialError`) instead of every handshake.
    """
    tls = (
        ReloadingTLS(str(settings.tls_cert_file), str(settings.tls_key_file))
        if settings.serves_tls
        else None
    )
    sockets = bind_sockets(settings.port, settings.host, reuse_port=settings.workers > 1)
    embedded: EmbeddedMongo | None = None
    if settings.mongodb_uri is None:
        embedded = EmbeddedMongo(settings.data_dir)
        uri = embedded.start()
        log.info("using the embedded dev database", extra={"uri": uri})
    else:
        uri = settings.mongodb_uri.get_secret_value()
    try:
        if settings.workers > 1:
            from tornado.process import fork_processes

            _forward_stop_signals_to_workers()
            fork_processes(settings.workers)
        with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
            runner.run(serve(settings, sockets, mongodb_uri=uri, tls=tls))
    finally:
        if embedded is not None:
            embedded.stop()
