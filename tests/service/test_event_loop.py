"""``GALE_EVENT_LOOP``: a real ``python -m gale_service`` runs on uvloop unless asked for the
standard library's loop, and serves the authenticated API on either; any other value is a
one-line refusal to start."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.mongo import SecantusServer
from tests.service.process import ServiceProcess
from tests.service.test_shutdown import wait_serving


def call(service: ServiceProcess, method: str, path: str, body: object = None) -> object:
    request = urllib.request.Request(
        service.base_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={**service.bearer(), "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize(("setting", "runs_on"), [(None, "uvloop"), ("asyncio", "asyncio")])
def test_the_service_serves_on_the_loop_it_was_given(
    mongo_server: SecantusServer, tmp_path: Path, setting: str | None, runs_on: str
) -> None:
    chosen = {} if setting is None else {"event_loop": setting}
    service = ServiceProcess(
        tmp_path,
        mongodb_uri=mongo_server.uri,
        mongodb_database=f"t_{uuid.uuid4().hex[:16]}",
        drain_seconds="0",
        **chosen,
    )
    service.start()
    try:
        wait_serving(service, workers=1)
        assert service.wait_for_log("listening")["event_loop"] == runs_on
        created = call(service, "POST", "/api/v1/items", {"name": "loop", "tags": [runs_on]})
        assert isinstance(created, dict)
        read = call(service, "GET", f"/api/v1/items/{created['id']}")
        assert read == created
        service.terminate()
        assert service.wait(timeout=30) == 0, service.log_path.read_text()
    finally:
        service.kill()


def test_an_unknown_loop_is_refused_in_one_line(tmp_path: Path) -> None:
    environment = ServiceProcess(tmp_path, event_loop="tokio").environment
    result = subprocess.run(
        [sys.executable, "-m", "gale_service"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gale-service: invalid setting: GALE_EVENT_LOOP: Input should be 'uvloop' or 'asyncio'"
    ]
