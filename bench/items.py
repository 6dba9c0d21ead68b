"""How much the service's layers cost on its hottest read: ``GET /api/v1/items/{id}``.

One run starts a SecantusDB, seeds one item, then measures with ``wrk``, one after the other
on the same machine and database:

- ``service``: the real ``python -m gale_service`` (auth, rate limits, negotiation, ETag,
  access log, metrics, spans not exported), one process, PyMongo async;
- ``bare``: :mod:`bench.bare`, a Tornado handler doing the same ``find_one``, nothing else.

It prints requests per second, p50 and p99 latency for both, and the service/bare ratio.
Absolute numbers depend on the machine (and SecantusDB is far slower than mongod, so both
sides are dominated by it); the ratio is what to watch. Run: ``python -m bench``
(``--duration``, ``--connections``, ``--rounds``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bson import ObjectId
from gale_service.auth.keys import parse_key_set
from gale_service.auth.principal import Principal
from gale_service.auth.tokens import TokenPolicy, issue_token
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure

from bench.tracing import Result, parse_wrk

JWT_KEYS = "bench:" + "b" * 48
DATABASE = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, *, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {url} did not answer within {timeout}s") from None
            time.sleep(0.1)


@contextmanager
def process(command: Sequence[str], *, env: dict[str, str] | None = None) -> Iterator[None]:
    child = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def secantus(workdir: Path) -> tuple[list[str], str]:
    port = free_port()
    executable = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
    command = [executable, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--storage-path", str(workdir / "db"), "--log-level", "WARNING"]
    return command, f"mongodb://127.0.0.1:{port}/?retryWrites=false&directConnection=true"


def seed(uri: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            with MongoClient(uri, serverSelectionTimeoutMS=1000) as client:
                now = datetime.now(UTC)
                item_id = ObjectId()
                client[DATABASE]["items"].insert_one(
                    {
                        "_id": item_id,
                        "name": "benchmark",
                        "description": "x" * 200,
                        "tags": ["bench", "read"],
                        "owner": "admin",
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
                return str(item_id)
        except ConnectionFailure:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def service_environment(uri: str, port: int, workdir: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GALE_", "OTEL_"))}
    huge = "1000000000"
    return environment | {
        "GALE_PORT": str(port),
        "GALE_MONGODB_URI": uri,
        "GALE_MONGODB_DATABASE": DATABASE,
        "GALE_SECRETS_DIR": str(workdir / "secrets"),
        "GALE_JWT_KEYS": JWT_KEYS,
        "GALE_LOG_FORMAT": "json",
        "GALE_DRAIN_SECONDS": "0",
        "GALE_RATE_LIMIT_IP_BURST": huge,
        "GALE_RATE_LIMIT_USER_BURST": huge,
        "GALE_MAX_IN_FLIGHT_REQUESTS": "100000",
        "OTEL_TRACES_EXPORTER": "none",
    }


def bearer() -> str:
    policy = TokenPolicy(
        keys=parse_key_set(JWT_KEYS), issuer="gale", audience="gale-api", ttl_seconds=3600
    )
    return issue_token(Principal(username="admin", is_admin=True), policy=policy)


def wrk(url: str, *, duration: int, connections: int, headers: dict[str, str]) -> str:
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        raise SystemExit("bench: wrk is not installed; `make tools` (Debian package wrk)")
    command = [wrk_path, "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout


def median(results: list[Result]) -> Result:
    return sorted(results, key=lambda result: result.requests_per_second)[len(results) // 2]


def report(service: Result, bare: Result) -> str:
    lines = [f"{'':<8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"]
    for name, result in (("service", service), ("bare", bare)):
        lines.append(
            f"{name:<8} {result.requests_per_second:>10.0f} {result.p50_ms:>8.2f} "
            f"{result.p99_ms:>8.2f} {result.non_2xx_3xx:>8}"
        )
    ratio = service.requests_per_second / bare.requests_per_second
    lines.append(f"service/bare throughput: {ratio:.2f}  (p50 x{service.p50_ms / bare.p50_ms:.2f})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved; the median is kept")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gale-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        db_command, uri = secantus(workdir)
        stack.enter_context(process(db_command))
        item_id = seed(uri)
        service_port, bare_port = free_port(), free_port()
        stack.enter_context(
            process(
                [sys.executable, "-m", "gale_service"],
                env=service_environment(uri, service_port, workdir),
            )
        )
        stack.enter_context(
            process([sys.executable, "-m", "bench.bare", uri, DATABASE, str(bare_port)])
        )
        auth = {"Authorization": f"Bearer {bearer()}"}
        targets = {
            "service": (f"http://127.0.0.1:{service_port}/api/v1/items/{item_id}", auth),
            "bare": (f"http://127.0.0.1:{bare_port}/items/{item_id}", {}),
        }
        for url, headers in targets.values():
            wait_for(url, headers=headers)
        results: dict[str, list[Result]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, headers) in targets.items():
                output = wrk(
                    url, duration=args.duration, connections=args.connections, headers=headers
                )
                results[name].append(parse_wrk(output, mode=name, route="/api/v1/items/{item_id}"))
        print(report(median(results["service"]), median(results["bare"])))


if __name__ == "__main__":
    main()
