"""At the file-descriptor limit the service pauses accepting instead of spinning, and serves
again as soon as connections close."""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import socket
import time
import uuid
from pathlib import Path

from gale_service.accept import LOG_INTERVAL_SECONDS

from tests.mongo import SecantusServer
from tests.service.process import ServiceProcess
from tests.service.test_shutdown import log_time, probe

#: Low enough that a few hundred client connections exhaust it, high enough to start.
NOFILE = 160
CLIENTS = 300


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def limit_descriptors() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, hard))


def test_accept_backs_off_at_the_descriptor_limit(
    mongo_server: SecantusServer, tmp_path: Path
) -> None:
    service = ServiceProcess(
        tmp_path, mongodb_uri=mongo_server.uri, mongodb_database=f"t_{uuid.uuid4().hex[:16]}"
    )
    service.launch(preexec_fn=limit_descriptors)
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if probe(service.port, "/livez") == 200:
                    break
            assert time.monotonic() < deadline, service.log_path.read_text()
            time.sleep(0.1)
        for _ in range(CLIENTS):
            client = socket.socket()
            client.settimeout(0.5)
            with contextlib.suppress(OSError):
                client.connect(("127.0.0.1", service.port))
            clients.append(client)
        service.wait_for_log("accept paused: out of resources for new connections", timeout=30)

        assert service.process is not None
        before = cpu_seconds(service.process.pid)
        time.sleep(3)
        busy = (cpu_seconds(service.process.pid) - before) / 3
        assert busy < 0.3, f"the accept loop spins: {busy:.0%} of a core while exhausted"
        size_while_exhausted = service.log_path.stat().st_size

        for client in clients:
            client.close()
        clients.clear()
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                if probe(service.port, "/livez") == 200:
                    break
            assert time.monotonic() < deadline, "never served again once connections closed"
            time.sleep(0.1)
        assert service.process.poll() is None
        # Stopped the way a pod is: a SIGKILLed service leaves its process pool's resource
        # tracker to warn (not in JSON) on the shared log.
        service.terminate()
        assert service.wait(timeout=30) == 0
    finally:
        for client in clients:
            client.close()
        service.kill()
    paused = [
        line
        for line in service.log_lines()
        if line["message"] == "accept paused: out of resources for new connections"
    ]
    assert paused, "the pause was logged"
    times = [log_time(line) for line in paused]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= LOG_INTERVAL_SECONDS - 0.1 for gap in gaps), f"logged too often: {gaps}"
    assert paused[0]["error"] == "Too many open files"
    assert size_while_exhausted < 1_000_000
