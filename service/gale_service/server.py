"""The service's lifecycle: start, serve, and ``drain_then_stop`` on SIGTERM/SIGINT.

Shutdown order matters on Kubernetes, and it ends when the work ends, not at a deadline:

1. ``/readyz`` turns 503 at once so endpoints controllers remove the pod; keep-alive ends
   (every response says ``Connection: close``); new WebSocket upgrades are refused.
2. The server keeps serving for ``GALE_DRAIN_SECONDS`` while that propagates (0 in dev).
3. The listener closes; idle connections are closed as they become idle; requests in flight
   finish (up to ``GALE_SHUTDOWN_TIMEOUT_SECONDS``). Under load this takes as long as the
   slowest request, not the deadline.
4. Only then WebSockets get 1001 (a client reconnects elsewhere, not into a half-stopped pod),
   background loops stop, and the database client closes after the last handler.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tornado.netutil import bind_sockets

from gale_service import heap
from gale_service.app import SLICES, make_app, make_metrics_app
from gale_service.db import DatabaseUnavailable, connect
from gale_service.draining import DrainingHTTPServer
from gale_service.embedded_db import EmbeddedMongo
from gale_service.executors import Executors
from gale_service.head_limits import HeadLimitedHTTPServer
from gale_service.health import Health
from gale_service.inflight import InFlight
from gale_service.intake import DISCARD_CAP_BYTES, RequestIntake
from gale_service.live.feed import LiveFeed
from gale_service.resources.slice import Slice
from gale_service.security.guard import Guard
from gale_service.services import Services, authenticator
from gale_service.settings import Settings
from gale_service.store import EventLog, VersionedStore, apply_migrations
from gale_service.store.users import UserStore
from gale_service.telemetry.db_monitoring import db_listeners
from gale_service.telemetry.lifecycle import ServiceTelemetry
from gale_service.tls import ReloadingTLS
from gale_service.workers import fork_workers

log = logging.getLogger(__name__)
MIGRATION_RETRY_SECONDS = 1.0
STEP_TIMEOUT_SECONDS = 5.0
#: How often, while draining, connections that went idle are closed.
IDLE_SWEEP_SECONDS = 0.05


class GaleHTTPServer(HeadLimitedHTTPServer, DrainingHTTPServer):
    """Tornado's ``HTTPServer`` with both of Gale's connection-level behaviours: oversized
    heads answered 414/431 (:mod:`.head_limits`) and a drain that ends when the work ends
    (:mod:`.draining`)."""


def make_server(
    services: Services, slices: Sequence[Slice], *, tls: ReloadingTLS | None = None
) -> GaleHTTPServer:
    """Tornado's HTTP server with limits chosen for an API behind a load balancer.

    Tornado's defaults (100 MiB bodies, an hour of idleness) suit neither: handlers see at most
    ``GALE_MAX_BODY_BYTES + 1`` bytes (:class:`RequestIntake`) so they answer 413 as problem+json,
    and idle keep-alive connections close after ``GALE_IDLE_CONNECTION_TIMEOUT_SECONDS``.
    ``xheaders`` (trusting ``X-Forwarded-For``) is only on when trusted proxies are configured.
    """
    settings = services.settings
    max_body_size = max(DISCARD_CAP_BYTES, settings.max_body_bytes + 1)
    return GaleHTTPServer(
        RequestIntake(
            make_app(services, slices),
            limit=settings.max_body_bytes,
            inflight=services.inflight,
            decompress_up_to=max_body_size,
        ),
        xheaders=bool(settings.trusted_proxies),
        max_body_size=max_body_size,
        max_header_size=settings.max_header_bytes,
        idle_connection_timeout=settings.idle_connection_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        # gzip request bodies are decoded by RequestIntake (decompress_up_to), not here.
        decompress_request=False,
        ssl_options=tls.context if tls is not None else None,
    )


async def _migrate_when_reachable(services: Services) -> None:
    while True:
        try:
            version = await apply_migrations(services.gateway)
            for store in services.stores.values():
                await store.ensure_indexes()
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
    server: DrainingHTTPServer
    migrations: asyncio.Task[None]
    telemetry: ServiceTelemetry
    tls: ReloadingTLS | None = None


def create_services(
    settings: Settings, *, mongodb_uri: str, slices: Sequence[Slice] = SLICES
) -> Services:
    """Everything the handlers share, with a store for each slice's resource."""
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
    events = EventLog(gateway)
    stores = {
        registered.resource.name: VersionedStore(
            gateway,
            events,
            collection=registered.resource.name,
            kind=registered.resource.singular,
            tags=registered.resource.tags,
        )
        for registered in slices
    }
    executors = Executors(
        blocking_workers=settings.blocking_workers, cpu_workers=settings.cpu_workers
    )
    return Services(
        settings=settings,
        gateway=gateway,
        events=events,
        stores=stores,
        health=Health(),
        inflight=InFlight(),
        executors=executors,
        auth=authenticator(settings, users=UserStore(gateway), executors=executors),
        guard=Guard.from_settings(settings),
        feed=LiveFeed(
            events,
            gateway,
            poll_interval=settings.live_poll_interval_seconds,
            queue_size=settings.ws_send_queue_size,
        ),
    )


def start(
    services: Services,
    sockets: list[socket.socket],
    *,
    tls: ReloadingTLS | None = None,
    slices: Sequence[Slice] = SLICES,
) -> RunningService:
    """Serve ``slices`` on ``sockets`` at once; migrations run in the background
    (``/startupz``). ``services`` must have been created for the same slices.

    With ``tls``, serve HTTPS and follow rotations of the certificate files.
    """
    server = make_server(services, slices, tls=tls)
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
            make_metrics_app(services),
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
    services.feed.hub.accepting = False
    server.begin_drain()
    log.info("draining", extra={"drain_seconds": settings.drain_seconds})
    await asyncio.sleep(settings.drain_seconds)
    # Logged just before the listener closes, so that every connection refused is later
    # than this line's timestamp (the shutdown tests compare client times with it).
    log.info("stopped accepting", extra={"open_connections": len(server.open)})
    server.stop()
    finished = await _finish_requests(server, services.inflight, settings.shutdown_timeout_seconds)
    if not finished:
        log.warning("shutdown deadline passed", extra={"in_flight": services.inflight.count})
    # WebSockets last: their clients reconnect to a pod that is not going away.
    services.feed.close_all()
    await _bounded("close connections", server.close_all_connections())
    # A handler that outlived the deadline still holds the database: give it a moment.
    await services.inflight.wait_idle(deadline=STEP_TIMEOUT_SECONDS)
    await _bounded("health monitor", services.health.stop_monitor())
    await _bounded("live feed", services.feed.stop())
    await _bounded("telemetry", running.telemetry.stop())
    if running.tls is not None:
        await _bounded("TLS reload", running.tls.stop())
    await _bounded("database client", services.gateway.close())
    services.executors.shutdown()
    log.info("stopped")


async def _finish_requests(server: DrainingHTTPServer, inflight: InFlight, deadline: float) -> bool:
    """Close connections as they go idle until none is left and nothing is in flight."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while server.close_idle() or inflight.count:
        if loop.time() >= end:
            return False
        await asyncio.sleep(IDLE_SWEEP_SECONDS)
    return True


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
    heap.settle(settings.gc_young_threshold)
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
            # The loop's package (uvloop, asyncio): what runs, not what was asked for.
            "event_loop": type(loop).__module__.partition(".")[0],
        },
    )
    await stop.wait()
    loop.add_signal_handler(signal.SIGINT, _stop_now, signal.SIGINT)
    loop.add_signal_handler(signal.SIGTERM, _already_stopping)
    await drain_then_stop(running)


def _already_stopping() -> None:
    """A repeated SIGTERM changes nothing: a supervisor or a launcher that signals the whole
    process group can deliver it twice, and the drain it asked for is under way."""
    log.info("SIGTERM again: already draining")


def _stop_now(signum: int) -> None:
    """A second Ctrl-C (SIGINT) while draining: a person wants out now, so exit at once
    (the dev database and CPU workers follow through their parent-death signal)."""
    log.warning("second stop signal: exiting without draining", extra={"signal": signum})
    logging.shutdown()
    os._exit(128 + signum)


class PortUnavailable(OSError):
    """The configured port cannot be listened on (in use, or not permitted)."""


def _bind(settings: Settings) -> list[socket.socket]:
    try:
        return bind_sockets(settings.port, settings.host, reuse_port=settings.workers > 1)
    except OSError as error:
        reason = "already in use" if error.errno == errno.EADDRINUSE else error.strerror
        raise PortUnavailable(
            error.errno, f"cannot listen on {settings.host}:{settings.port}: {reason}"
        ) from None


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
    sockets = _bind(settings)
    embedded: EmbeddedMongo | None = None
    if settings.mongodb_uri is None:
        embedded = EmbeddedMongo(settings.data_dir)
        uri = embedded.start()
        log.info("using the embedded dev database", extra={"uri": uri})
    else:
        uri = settings.mongodb_uri.get_secret_value()
    try:
        if settings.workers > 1:
            fork_workers(settings.workers, sockets=sockets)
        with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
            runner.run(serve(settings, sockets, mongodb_uri=uri, tls=tls))
    finally:
        if embedded is not None:
            embedded.stop()
