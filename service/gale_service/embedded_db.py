"""Dev only: a SecantusDB server (MongoDB wire protocol over TCP) when no URI is configured.

SecantusDB is a GPL, beta, dev/test dependency: it is started as a separate process through
its ``secantusd-py`` executable and never imported, so the service's own code and the
production image stay free of it. Its data lives under ``.gale-data/db`` and survives restarts.
``retryWrites=false`` is always on its URI: with retryable writes its write rate collapses after
about 10,000 writes.

A dev server can be killed without any chance to clean up (a closed terminal, the OOM killer),
so the database must not depend on the service's clean-up to stop:

- it receives SIGTERM when the service dies (:func:`die_with_parent`);
- ``secantusd.pid`` in the data directory names the database and the service that owns it. A
  start that finds a live owner refuses the directory (:class:`DataDirInUse`: WiredTiger
  allows one server per directory); one that finds only the database (its owner is gone) stops
  that stale server first, with one log line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from gale_service.parent_death import die_with_parent

log = logging.getLogger(__name__)
EXECUTABLE = "secantusd-py"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
PID_FILE = "secantusd.pid"


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be started; the message says how to fix it."""


class DataDirInUse(EmbeddedDatabaseError):
    """Another live Gale owns the data directory's database."""


def _command_line(pid: int) -> str | None:
    """The process's command line, or None when no such process runs (or it is a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): liveness only
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _command_line(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


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

    @property
    def pid_file(self) -> Path:
        return self.data_dir / PID_FILE

    def _clear_earlier_run(self, storage: Path) -> None:
        """Refuse a directory a live Gale owns; stop a database whose owner is gone."""
        try:
            recorded = json.loads(self.pid_file.read_text())
            owner, database = int(recorded["owner_pid"]), int(recorded["db_pid"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError):
            self.pid_file.unlink(missing_ok=True)  # unreadable: nothing to act on
            return
        owner_command = _command_line(owner)
        if owner != os.getpid() and owner_command is not None and "gale" in owner_command:
            raise DataDirInUse(
                f"GALE_DATA_DIR {self.data_dir} is in use by another Gale (PID {owner}); "
                "stop it or choose another GALE_DATA_DIR"
            )
        database_command = _command_line(database)
        if database_command is not None and EXECUTABLE in database_command:
            log.warning(
                "stopping a stale embedded SecantusDB left by an earlier run",
                extra={"pid": database, "data": str(storage)},
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(database, signal.SIGTERM)
            if not _wait_gone(database, STOP_TIMEOUT_SECONDS):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(database, signal.SIGKILL)
                _wait_gone(database, STOP_TIMEOUT_SECONDS)
        self.pid_file.unlink(missing_ok=True)

    def start(self) -> str:
        storage = self.data_dir / "db"
        storage.mkdir(parents=True, exist_ok=True)
        self._clear_earlier_run(storage)
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
            # Its own session: Ctrl-C reaches the service, which stops the database in order.
            start_new_session=True,
            preexec_fn=lambda: die_with_parent(signal.SIGTERM, parent=self._owner_pid),
        )
        log_file.close()
        self.pid_file.write_text(
            json.dumps({"owner_pid": self._owner_pid, "db_pid": self._process.pid})
        )
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
            self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self.pid_file.unlink(missing_ok=True)
        log.info("embedded SecantusDB stopped")
