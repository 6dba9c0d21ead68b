"""A real Prometheus server (Debian ``prometheus``) scraping targets on loopback, for tests."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.ports import free_port, wait_for_port
from tests.tools import require_tool

INSTALL = "sudo apt-get install prometheus (or `make tools`)"
SCRAPE_INTERVAL = "1s"


@dataclass(frozen=True)
class Prometheus:
    port: int

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query over the HTTP API; the ``result`` vector."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": promql}
        )
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, promql: str, *, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Poll until ``promql`` returns something (scrapes happen every second)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.25)

    def targets(self) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/targets"
        with urllib.request.urlopen(url, timeout=5) as response:
            active: list[dict[str, Any]] = json.load(response)["data"]["activeTargets"]
        return active


def _wait_ready(port: int, *, timeout: float) -> None:
    """Prometheus listens before it is ready (its API answers 503 while the TSDB opens)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready after {timeout}s") from None
            time.sleep(0.1)


@contextmanager
def prometheus(*, jobs: dict[str, str], tmp: Path) -> Iterator[Prometheus]:
    """Scrape each ``job: host:port`` every second; stop the server afterwards."""
    binary = require_tool("prometheus", install=INSTALL)
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [{"targets": [target], "labels": {"namespace": "default"}}],
            }
            for job, target in jobs.items()
        ],
    }
    config_file = tmp / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        wait_for_port(port, timeout=30)
        _wait_ready(port, timeout=30)
        yield Prometheus(port=port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
