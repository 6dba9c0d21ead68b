"""``python -m gale_service`` as a real child process, for start-up and shutdown tests.

Its stdout (JSON log lines) goes to a file the test reads; it listens on a free port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gale_service.auth.keys import parse_key_set
from gale_service.auth.principal import Principal
from gale_service.auth.tokens import TokenPolicy, issue_token

from tests.ports import free_port, wait_for_port
from tests.service.harness import TEST_AUTH


class ServiceProcess:
    def __init__(self, workdir: Path, **settings: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / f"service-{self.port}.log"
        self.environment = {
            key: value for key, value in os.environ.items() if not key.startswith("GALE_")
        }
        self.environment |= {
            "GALE_HOST": "127.0.0.1",
            "GALE_PORT": str(self.port),
            "GALE_LOG_FORMAT": "json",
            # No collector here: an OTLP exporter would retry at exit for seconds.
            "OTEL_TRACES_EXPORTER": "none",
            "GALE_SECRETS_DIR": str(workdir / "secrets"),
            **{f"GALE_{key.upper()}": str(value) for key, value in TEST_AUTH.items()},
            **{f"GALE_{key.upper()}": value for key, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self, **popen: Any) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it (its output goes to ``log_path``)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gale_service"],
                cwd=self.workdir,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                **popen,
            )
        return self.process

    def start(self, *, timeout: float = 60, terminal: bool = False) -> None:
        """Start and wait until it listens. ``terminal``: in a process group of its own, as a
        shell runs a foreground job, so :meth:`interrupt` can send Ctrl-C to the whole group."""
        self.launch(start_new_session=terminal)
        try:
            wait_for_port(self.port, timeout=timeout)
        except TimeoutError:
            self.kill()
            raise AssertionError(f"service did not listen:\n{self.log_path.read_text()}") from None

    def interrupt(self) -> None:
        """Ctrl-C as a terminal sends it: SIGINT to every process in the foreground group."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, *, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines logged so far (anything else on stdout is a test failure)."""
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def wait_for_log(self, message: str, *, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if line.get("message") == message:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"never logged {message!r}:\n{self.log_path.read_text()}")

    def bearer(self, username: str = "admin", *, is_admin: bool = True) -> dict[str, str]:
        """An ``Authorization`` header the child accepts (it was given TEST_AUTH's keys)."""
        policy = TokenPolicy(
            keys=parse_key_set(str(TEST_AUTH["jwt_keys"])),
            issuer="gale",
            audience="gale-api",
            ttl_seconds=900,
        )
        token = issue_token(Principal(username=username, is_admin=is_admin), policy=policy)
        return {"Authorization": f"Bearer {token}"}
