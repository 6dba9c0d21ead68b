"""The built service image, run as the chart runs it: uid 10001 on a read-only root, in
production mode with real secrets from a mounted directory, against a SecantusDB on loopback."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from gale_service.auth.keys import generate_key_set_text

from tests.images.containers import Image
from tests.mongo import SecantusServer
from tests.ports import free_port

# The first test of a run may build both images (about three minutes cold, on 2 cores).
pytestmark = pytest.mark.timeout(600)
SECRETS_MOUNT = "/run/secrets/gale"  # the image's default GALE_SECRETS_DIR, /var/run -> /run
ADMIN_PASSWORD = secrets.token_urlsafe(24)


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    base: str
    env: dict[str, str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def write_secrets(directory: Path, *, mongodb_uri: str) -> Path:
    """A Secret volume's files, one per setting, readable by the image's user (mode 0644)."""
    directory.mkdir(mode=0o755)
    values = {
        "secret_key": secrets.token_urlsafe(48),
        "jwt_keys": generate_key_set_text("k1"),
        "cookie_secrets": generate_key_set_text("1"),
        "admin_password": ADMIN_PASSWORD,
        "mongodb_uri": mongodb_uri,
    }
    for name, value in values.items():
        (directory / name).write_text(value)
        (directory / name).chmod(0o644)
    directory.chmod(0o755)
    return directory


def wait_ready(running: Running, *, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            pytest.fail(
                f"the service exited with {running.process.returncode}:\n{running.output()}"
            )
        try:
            if requests.get(running.base + "/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/readyz never answered 200 within {timeout}s:\n{running.output()}")


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusServer]:
    server = SecantusServer(tmp_path_factory.mktemp("image-db") / "data")
    server.start()
    yield server
    server.stop()


def start(image: Image, workdir: Path, database: SecantusServer) -> Running:
    port = free_port()
    env = {"GALE_HOST": "127.0.0.1", "GALE_PORT": str(port), "GALE_DRAIN_SECONDS": "1"}
    secrets_dir = write_secrets(workdir / "secrets", mongodb_uri=database.uri)
    log = workdir / "service.log"
    with log.open("wb") as out:
        process = image.launch(
            image.entrypoint, env=env, binds=[(secrets_dir, SECRETS_MOUNT)], stdout=out
        )
    running = Running(process, f"http://127.0.0.1:{port}", env, log)
    wait_ready(running)
    return running


@pytest.fixture(scope="module")
def service(
    service_image: Image, database: SecantusServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    running = start(service_image, tmp_path_factory.mktemp("image-service"), database)
    yield running
    stop(running.process)


def test_runs_as_its_numeric_user_in_production(service_image: Image, service: Running) -> None:
    assert service_image.user == "10001:10001"
    assert service_image.env["GALE_ENV"] == "production"
    status = Path(f"/proc/{service.process.pid}/status").read_text()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uids) == {"10001"}
    assert json.loads(requests.get(service.base + "/readyz", timeout=5).content)["status"] == "ok"


def test_item_round_trip_through_the_api(service: Running) -> None:
    token = requests.post(
        service.base + "/api/v1/auth/token",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    created = requests.post(
        service.base + "/api/v1/items",
        json={"name": "built image", "tags": ["images"]},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    location = service.base + created.headers["Location"]
    read = requests.get(location, headers=headers, timeout=10)
    assert read.status_code == 200
    body: dict[str, Any] = read.json()
    assert (body["name"], body["tags"], body["owner"]) == ("built image", ["images"], "admin")
    deleted = requests.delete(location, headers=headers | {"If-Match": read.headers["ETag"]})
    assert deleted.status_code == 204, deleted.text
    assert requests.get(location, headers=headers, timeout=10).status_code == 404


def test_its_healthcheck_command_passes_only_against_the_running_service(
    service_image: Image, service: Running
) -> None:
    test = service_image.config["Healthcheck"]["Test"]
    assert test[0] == "CMD"
    status, output = service_image.run(test[1:], env=service.env)
    assert status == 0, output
    status, _ = service_image.run(test[1:], env=service.env | {"GALE_PORT": str(free_port())})
    assert status != 0


def test_sigterm_drains_and_exits_zero(
    service_image: Image, database: SecantusServer, tmp_path: Path
) -> None:
    running = start(service_image, tmp_path, database)
    # Some real work first: the password check runs in the CPU worker processes.
    token = requests.post(
        running.base + "/api/v1/auth/token",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    stopping = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    # Draining: /readyz turns 503 while in-flight work finishes, then the process exits 0.
    deadline = time.monotonic() + 10
    answers = set()
    while time.monotonic() < deadline and running.process.poll() is None:
        try:
            answers.add(requests.get(running.base + "/readyz", timeout=1).status_code)
        except requests.ConnectionError:
            break
    assert stop(running.process) == 0, running.output()
    print(f"SIGTERM to exit: {time.monotonic() - stopping:.1f} s (drain 1 s)")
    assert 503 in answers, answers
    assert "draining" in running.output()
