"""The real service as a child process (``python -m gale_service``), on free loopback ports.

Tests that check what leaves the process (OTLP export, Prometheus scrapes) run it exactly as
a container would: configured by environment variables only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.mongo import SecantusServer
from tests.ports import free_port, wait_for_port


@dataclass(frozen=True)
class ServiceProcess:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def mongo(tmp: Path) -> Iterator[SecantusServer]:
    server = SecantusServer(tmp / "mongo")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def service_process(
    *, mongodb_uri: str, tmp: Path, env: Mapping[str, str] = {}
) -> Iterator[ServiceProcess]:
    """Start the service, wait for its port, stop it with SIGTERM (as Kubernetes does)."""
    port = free_port()
    log = tmp / "service.log"
    child_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GALE_", "OTEL_"))},
        "GALE_PORT": str(port),
        "GALE_MONGODB_URI": mongodb_uri,
        "GALE_MONGODB_DATABASE": "observability",
        "GALE_SECRETS_DIR": str(tmp / "secrets"),
        "GALE_DATA_DIR": str(tmp / "data"),
        "GALE_DRAIN_SECONDS": "0",
        "GALE_LOG_FORMAT": "json",
        **env,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gale_service"],
            env=child_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=30)
        yield ServiceProcess(port=port, log=log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
