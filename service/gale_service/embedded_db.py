"""Dev only: a SecantusDB server (MongoDB wire protocol over TCP) when no URI is configured.

SecantusDB is a GPL, beta, dev/test dependency: it is started as a separate process through
its ``secantusd-py`` executable and never imported, so the service's own code and the
production image stay free of it. Its data lives under ``.gale-data/db`` and survives restarts.
``retryWrites=false`` is always on its URI: with retryable writes its write rate collapses after
about 10,000 writes.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)
EXECUTABLE = "secantusd-py"
START_TIMEOUT_SECONDS = 30.0


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be started; the message says how to fix it."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _executable() -> str:
    beside_python = Path(sys.executable).with_name(EXECUTABLE)
    found = shutil.which(EXECUTABLE) or (str(beside_python) if beside_python.exists() else None)
    if found is None:
        raise EmbeddedDatabaseError(
            f"{EXECUTABLE} not found: install the dev dependencies (`uv sync`) "
            "or set GALE_MONGODB_URI to a real MongoDB"
        )
    return found


class EmbeddedMongo:
    """Start, locate and stop one ``secantusd-py`` process on a free loopback port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?retryWrites=false&directConnection=true"

    def start(self) -> str:
        storage = self.data_dir / "db"
        storage.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        log_file = (self.data_dir / "secantusd.log").open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - fixed executable, no shell
            [
                _executable(),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(storage),
                "--log-level",
                "WARNING",
                "--sync-on-commit",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"{EXECUTABLE} exited with {self._process.returncode}; "
                    f"see {self.data_dir / 'secantusd.log'}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            log.info("embedded SecantusDB started", extra={"uri": self.uri, "data": str(storage)})
            return self.uri
        self.stop()
        raise EmbeddedDatabaseError(f"{EXECUTABLE} did not listen within {START_TIMEOUT_SECONDS}s")

    def stop(self) -> None:
        """Stop the server, from the process that started it only.

        With ``GALE_WORKERS`` > 1 the workers are forks that inherit this object; the first
        one to exit must not take the database away from the others.
        """
        if os.getpid() != self._owner_pid:
            return
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        log.info("embedded SecantusDB stopped")
