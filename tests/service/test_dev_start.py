"""``python -m gale_service`` in dev with no GALE_MONGODB_URI starts its own SecantusDB."""

from __future__ import annotations

import http.client
import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.mongo import SecantusServer
from tests.service.process import ServiceProcess


def call(
    service: ServiceProcess, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    headers = {**service.bearer(), "Content-Type": "application/json"}
    try:
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def wait_ready(service: ServiceProcess) -> None:
    deadline = time.monotonic() + 60
    while call(service, "GET", "/readyz")[0] != 200:
        assert time.monotonic() < deadline, service.log_path.read_text()
        time.sleep(0.05)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def test_embedded_database_started_kept_and_stopped(tmp_path: Path) -> None:
    data_dir = tmp_path / "gale-data"
    first = ServiceProcess(tmp_path, data_dir=str(data_dir), drain_seconds="0.1")
    first.start()
    try:
        started = first.wait_for_log("using the embedded dev database")
        uri = urlsplit(started["uri"])
        assert "retryWrites=false" in uri.query
        assert uri.hostname == "127.0.0.1"
        db_port = uri.port
        assert db_port is not None
        assert listening(db_port)
        wait_ready(first)
        status, item = call(first, "POST", "/api/v1/items", {"name": "persisted"})
        assert status == 201
        first.terminate()
        assert first.wait() == 0
    finally:
        first.kill()
    assert not listening(db_port), "the embedded database stops with the service"
    assert any(line["message"] == "embedded SecantusDB stopped" for line in first.log_lines())
    assert (data_dir / "db").is_dir()

    second = ServiceProcess(tmp_path, data_dir=str(data_dir), drain_seconds="0.1")
    second.start()
    try:
        wait_ready(second)
        status, again = call(second, "GET", f"/api/v1/items/{item['id']}")
        assert status == 200, "data under GALE_DATA_DIR survives a restart"
        assert again["name"] == "persisted"
        second.terminate()
        assert second.wait() == 0
    finally:
        second.kill()


def test_console_script_on_a_terminal_logs_readable_lines(
    mongo_server: SecantusServer, tmp_path: Path
) -> None:
    """``gale-service`` with stdout on a terminal: text lines, not JSON."""
    service = ServiceProcess(
        tmp_path, mongodb_uri=mongo_server.uri, log_format="auto", drain_seconds="0"
    )
    primary, secondary = pty.openpty()
    script = Path(sys.executable).with_name("gale-service")
    service.process = subprocess.Popen(
        [str(script)], cwd=tmp_path, env=service.environment, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    try:
        output = b""
        deadline = time.monotonic() + 60
        while b"listening" not in output:
            assert time.monotonic() < deadline, output
            if select.select([primary], [], [], 0.5)[0]:
                output += os.read(primary, 4096)
        service.terminate()
        assert service.wait() == 0
    finally:
        service.kill()
        os.close(primary)
    line = next(line for line in output.decode().splitlines() if "listening" in line)
    assert re.match(r"^\d\d:\d\d:\d\d INFO +gale_service\.server: listening url=http://", line)
    assert not line.lstrip().startswith("{")
