"""An emulated cluster for end-to-end runs: the kmock API server and the real operator process.

Both run as subprocesses on free loopback ports, the operator reaching the emulator through
a kubeconfig exactly as it would reach a real cluster. Used by the tests and the playground.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
import yaml

from tests.ports import free_port, wait_for_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "helm" / "gale" / "crds" / "microservices.gale.dev.yaml"
SAMPLE_PATH = ROOT / "operator" / "samples" / "microservice.yaml"
MS = "/apis/gale.dev/v1alpha1"
T = TypeVar("T")


class Api:
    """A tiny kubectl: JSON requests against the emulated API server."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def request(self, method: str, path: str, body: Any = None, *, patch: str = "merge") -> Any:
        headers = {
            "Content-Type": f"application/{patch}-patch+json"
            if method == "PATCH"
            else "application/json"
        }
        data = None if body is None else json.dumps(body)
        response = self.session.request(
            method, self.base + path, data=data, headers=headers, timeout=10
        )
        if response.status_code == 404 and method == "GET":
            return None
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def wait_until(probe: Callable[[], T | None], *, timeout: float = 15.0, what: str = "") -> T:
    """Poll ``probe`` every 50 ms until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(0.05)


def permission_of(entry: dict[str, Any]) -> tuple[str, str, str] | None:
    """The RBAC (group, resource, verb) a request needs; ``None`` for discovery URLs."""
    parts = entry["path"].strip("/").split("/")
    if parts[0] == "api" and len(parts) > 2:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    resource = "/".join([rest[0], *rest[2:3]])
    named = len(rest) > 1
    verb = {
        "GET": "watch"
        if entry["query"].get("watch") in {"true", "1"}
        else "get"
        if named
        else "list",
        "POST": "create",
        "PATCH": "patch",
        "DELETE": "delete",
    }[entry["method"]]
    return group, resource, verb


def permissions_used(access_log: pathlib.Path) -> set[tuple[str, str, str]]:
    """Every (group, resource, verb) the operator (not the test's own client) needed."""
    return {
        permission
        for entry in map(json.loads, access_log.read_text().splitlines())
        if not entry["agent"].startswith("python-requests")
        and (permission := permission_of(entry)) is not None
    }


def load_yaml(path: pathlib.Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def write_kubeconfig(path: pathlib.Path, *, port: int) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emulated",
                "clusters": [
                    {"name": "emulated", "cluster": {"server": f"http://127.0.0.1:{port}"}}
                ],
                "users": [{"name": "emulated", "user": {"token": "emulated"}}],
                "contexts": [
                    {"name": "emulated", "context": {"cluster": "emulated", "user": "emulated"}}
                ],
            }
        )
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_apiserver(
    workdir: pathlib.Path, *, log: Any = None
) -> tuple[subprocess.Popen[bytes], Api]:
    """The emulator on a free port, logging every request to ``workdir/access.log``."""
    port = free_port()
    write_kubeconfig(workdir / "kubeconfig", port=port)
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.operator.apiserver", "--port", str(port), "--access-log"],
        cwd=ROOT,
        stdout=(workdir / "access.log").open("wb"),
        stderr=log if log is not None else subprocess.DEVNULL,
    )
    wait_for_port(port)
    return server, Api(f"http://127.0.0.1:{port}")


def start_operator(
    workdir: pathlib.Path,
    *args: str,
    env: dict[str, str] | None = None,
    log: Any = None,
    verbose: bool = True,
) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """The real operator process on the emulator's kubeconfig, with free metrics/health ports."""
    ports = {"metrics_port": free_port(), "health_port": free_port()}
    out = log if log is not None else subprocess.DEVNULL
    operator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gale_operator",
            *(["--verbose"] if verbose else []),
            "--metrics-port",
            str(ports["metrics_port"]),
            "--health-port",
            str(ports["health_port"]),
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "KUBECONFIG": str(workdir / "kubeconfig"), **(env or {})},
        stdout=out,
        stderr=out,
    )
    return operator, ports


def stop(process: subprocess.Popen[bytes]) -> None:
    _stop(process)


@contextlib.contextmanager
def emulated_cluster(
    workdir: pathlib.Path,
    *,
    reconcile_interval: float = 1.0,
    namespaces: tuple[str, ...] = (),
    log: Any = None,
) -> Iterator[tuple[Api, dict[str, Any]]]:
    """Start the emulator, install the CRD, start the operator; stop both afterwards."""
    server, api = start_apiserver(workdir, log=log)
    operator: subprocess.Popen[bytes] | None = None
    try:
        api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_yaml(CRD_PATH))
        # The watched namespaces exist before the operator starts, as in a real deployment:
        # kopf overlooks a namespace created between its two initial namespace listings.
        for ns in namespaces:
            api.post("/api/v1/namespaces", {"metadata": {"name": ns}})
        operator, ports = start_operator(
            workdir,
            "--reconcile-interval",
            str(reconcile_interval),
            *(f"--namespace={ns}" for ns in namespaces),
            log=log,
        )
        wait_for_port(ports["health_port"])
        yield (
            api,
            {
                **ports,
                "kubeconfig": workdir / "kubeconfig",
                "operator": operator,
                "access_log": workdir / "access.log",
            },
        )
    finally:
        if operator is not None:
            _stop(operator)
        _stop(server)
