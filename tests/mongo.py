"""A real SecantusDB server (MongoDB wire protocol over TCP) for tests, on a free loopback port."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.ports import free_port, wait_for_port

EXECUTABLE = "secantusd-py"


class SecantusServer:
    """One ``secantusd-py`` process; can be stopped and started again on the same port and data."""

    def __init__(self, storage: Path, *, port: int | None = None) -> None:
        self.storage = storage
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?retryWrites=false&directConnection=true"

    def start(self) -> None:
        executable = shutil.which(EXECUTABLE) or str(Path(sys.executable).with_name(EXECUTABLE))
        log = (self.storage.parent / f"{self.storage.name}.log").open("ab")
        self._process = subprocess.Popen(
            [
                executable,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.storage),
                "--log-level",
                "WARNING",
                # Acknowledged journaled writes must survive kill -9, as on mongod.
                "--sync-on-commit",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port, timeout=60)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing gets flushed on the way out."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
