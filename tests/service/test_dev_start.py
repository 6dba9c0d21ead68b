"""``python -m gale_service`` in dev with no GALE_MONGODB_URI starts its own SecantusDB."""

from __future__ import annotations

import http.client
import json
import os
import pty
import re
import select
import signal
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


def embedded_port(service: ServiceProcess) -> int:
    port = urlsplit(service.wait_for_log("using the embedded dev database")["uri"]).port
    assert port is not None
    return port


def until_closed(port: int, *, timeout: float) -> float:
    """Seconds until nothing listens on ``port`` any more."""
    started = time.monotonic()
    while listening(port):
        assert time.monotonic() - started < timeout, f"port {port} still open after {timeout}s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_sigkilled_dev_run_takes_its_database_along_and_starts_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "gale-data"
    first = ServiceProcess(tmp_path, data_dir=str(data_dir))
    first.start()
    try:
        db_port = embedded_port(first)
        wait_ready(first)
        status, item = call(first, "POST", "/api/v1/items", {"name": "before the kill"})
        assert status == 201
    finally:
        first.kill()  # SIGKILL: no clean-up runs in the service
    until_closed(db_port, timeout=20)

    second = ServiceProcess(tmp_path, data_dir=str(data_dir))
    second.start()
    try:
        wait_ready(second)
        status, again = call(second, "GET", f"/api/v1/items/{item['id']}")
        assert (status, again["name"]) == (200, "before the kill")
        second.terminate()
        assert second.wait() == 0
    finally:
        second.kill()


def test_a_stale_database_from_an_earlier_run_is_stopped_with_one_line(tmp_path: Path) -> None:
    """A database whose owner is gone (a run from before parent-death signals, another OS)."""
    data_dir = tmp_path / "gale-data"
    stale = SecantusServer(data_dir / "db")
    (data_dir / "db").mkdir(parents=True)
    stale.start()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert stale._process is not None
    stale_pid = stale._process.pid
    (data_dir / "secantusd.pid").write_text(
        json.dumps({"owner_pid": gone.pid, "db_pid": stale_pid})
    )
    service = ServiceProcess(tmp_path, data_dir=str(data_dir))
    try:
        service.start()
        wait_ready(service)
        assert not listening(stale.port), "the stale server was stopped"
        service.terminate()
        assert service.wait() == 0
    finally:
        service.kill()
        stale.stop()
    stopped = [
        line
        for line in service.log_lines()
        if line["message"] == "stopping a stale embedded SecantusDB left by an earlier run"
    ]
    assert [line["pid"] for line in stopped] == [stale_pid]


def test_a_data_dir_in_use_by_a_live_gale_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "gale-data"
    first = ServiceProcess(tmp_path, data_dir=str(data_dir))
    first.start()
    try:
        wait_ready(first)
        second = ServiceProcess(tmp_path / "second", data_dir=str(data_dir))
        process = second.launch()
        assert process.wait(timeout=30) == 2
        output = second.log_path.read_text().strip().splitlines()
        assert first.process is not None
        assert len(output) == 1, output
        assert f"PID {first.process.pid}" in output[0]
        assert "GALE_DATA_DIR" in output[0]
        wait_ready(first)  # untouched
    finally:
        first.kill()


def test_a_busy_port_is_one_line_naming_gale_port(
    tmp_path: Path, mongo_server: SecantusServer
) -> None:
    service = ServiceProcess(tmp_path, mongodb_uri=mongo_server.uri)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", service.port))
        taken.listen()
        process = service.launch()
        assert process.wait(timeout=30) == 2
    output = service.log_path.read_text().strip().splitlines()
    assert len(output) == 1, output
    assert "GALE_PORT" in output[0]
    assert f"127.0.0.1:{service.port}" in output[0]
    assert "already in use" in output[0]


def import_lines(service: ServiceProcess, count: int) -> int:
    """An NDJSON import: the request that puts the CPU worker processes to work."""
    body = "\n".join(json.dumps({"name": f"imported {n}"}) for n in range(count))
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    headers = {**service.bearer(), "Content-Type": "application/x-ndjson"}
    try:
        connection.request("POST", "/api/v1/import/items", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_ctrl_c_in_dev_stops_promptly_without_tracebacks(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path, data_dir=str(tmp_path / "gale-data"))
    service.start(terminal=True)
    try:
        db_port = embedded_port(service)
        wait_ready(service)
        assert import_lines(service, 20) in {200, 201}
        service.interrupt()
        interrupted = time.monotonic()
        assert service.wait(timeout=30) == 0
        took = time.monotonic() - interrupted
    finally:
        service.kill()
    assert took < 5, f"Ctrl-C took {took:.1f}s with nothing in flight"
    assert not listening(db_port)
    output = service.log_path.read_text()
    assert "Traceback" not in output
    assert "KeyboardInterrupt" not in output
    draining = service.wait_for_log("draining")
    assert draining["drain_seconds"] == 0, "dev does not pause to drain unless configured"


def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path, data_dir=str(tmp_path / "gale-data"), drain_seconds="60")
    service.start(terminal=True)
    try:
        db_port = embedded_port(service)
        wait_ready(service)
        service.interrupt()
        service.wait_for_log("draining")
        service.interrupt()
        again = time.monotonic()
        assert service.wait(timeout=30) == 128 + signal.SIGINT
        took = time.monotonic() - again
        until_closed(db_port, timeout=20)  # the database follows its parent
    finally:
        service.kill()
    assert took < 2, f"the second Ctrl-C took {took:.1f}s"
    assert "Traceback" not in service.log_path.read_text()
