"""What every benchmark shares: loopback ports, child processes, CPU pinning, wrk and its output.

Benchmarks report ratios to baselines measured in the same run, so these helpers start each
side the same way: the same SecantusDB, the same seeded item, the same wrk settings, and, where
``taskset`` exists, the server alone on one core with the load generator and the database on
the other, so the measured process never competes with its own load.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bson import ObjectId
from gale_service.auth.keys import parse_key_set
from gale_service.auth.principal import Principal
from gale_service.auth.tokens import TokenPolicy, issue_token
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure

REPO = Path(__file__).resolve().parents[1]
JWT_KEYS = "bench:" + "b" * 48
ISSUER, AUDIENCE = "gale", "gale-api"
DATABASE = "bench"
#: Server core and load core when the machine has two or more; ``None`` without taskset.
SERVER_CPU, LOAD_CPU = "0", "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(command: Sequence[str], cpu: str) -> list[str]:
    """``command`` run on ``cpu`` when ``taskset`` exists and there is more than one core."""
    taskset = shutil.which("taskset")
    if taskset is None or (os.cpu_count() or 1) < 2:
        return list(command)
    return [taskset, "-c", cpu, *command]


def wait_for(url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 60) -> None:
    """Until ``url`` answers 2xx."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(url, headers=dict(headers or {}))
            with urllib.request.urlopen(request, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {url} did not answer within {timeout}s") from None
            time.sleep(0.1)


@contextmanager
def process(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child in a process group of its own, stopped (then killed) with its children."""
    output = log.open("wb") if log else subprocess.DEVNULL
    child = subprocess.Popen(
        list(command),
        cwd=REPO,
        env=dict(env) if env is not None else None,
        stdout=output,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield child
    finally:
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # anything it left in its group
        if log:
            output.close()  # type: ignore[union-attr]


@contextmanager
def database(workdir: Path) -> Iterator[str]:
    """A SecantusDB on a free port, on the load core; yields its URI."""
    port = free_port()
    executable = shutil.which("secantusd-py") or str(Path(sys.executable).with_name("secantusd-py"))
    command = [executable, "--host", "127.0.0.1", "--port", str(port), "--sync-on-commit"]
    command += ["--storage-path", str(workdir / "db"), "--log-level", "WARNING"]
    with process(pinned(command, LOAD_CPU), log=workdir / "secantusd.log"):
        uri = f"mongodb://127.0.0.1:{port}/?retryWrites=false&directConnection=true"
        _wait_for_database(uri)
        yield uri


def _wait_for_database(uri: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with MongoClient[dict[str, object]](uri, serverSelectionTimeoutMS=1000) as client:
                client.admin.command("ping")
                return
        except ConnectionFailure:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def seed_item(uri: str, *, owner: str = "admin") -> str:
    """One item shaped like the API's, owned by ``owner``; its id."""
    now = datetime.now(UTC).replace(microsecond=0)
    item_id = ObjectId()
    with MongoClient[dict[str, object]](uri) as client:
        client[DATABASE]["items"].insert_one(
            {
                "_id": item_id,
                "name": "benchmark",
                "description": "x" * 200,
                "tags": ["bench", "read"],
                "owner": owner,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    return str(item_id)


def bearer(username: str = "admin", *, is_admin: bool = True) -> str:
    """A token the service (and the peers) accept, signed with :data:`JWT_KEYS`."""
    policy = TokenPolicy(
        keys=parse_key_set(JWT_KEYS), issuer=ISSUER, audience=AUDIENCE, ttl_seconds=3600
    )
    return issue_token(Principal(username=username, is_admin=is_admin), policy=policy)


def service_environment(uri: str, port: int, workdir: Path) -> dict[str, str]:
    """``python -m gale_service`` in its default stack, unlimited enough to be measured."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GALE_", "OTEL_"))}
    huge = "1000000000"
    return environment | {
        "GALE_PORT": str(port),
        "GALE_MONGODB_URI": uri,
        "GALE_MONGODB_DATABASE": DATABASE,
        "GALE_SECRETS_DIR": str(workdir / "secrets"),
        "GALE_JWT_KEYS": JWT_KEYS,
        # One admin password for every server of a run: a different one resets the admin,
        # which (rightly) revokes the benchmark's token.
        "GALE_ADMIN_PASSWORD": "bench-" + "p" * 32,
        "GALE_LOG_FORMAT": "json",
        "GALE_DRAIN_SECONDS": "0",
        "GALE_SHUTDOWN_TIMEOUT_SECONDS": "2",
        "GALE_RATE_LIMIT_IP_BURST": huge,
        "GALE_RATE_LIMIT_IP_PER_SECOND": huge,
        "GALE_RATE_LIMIT_USER_BURST": huge,
        "GALE_RATE_LIMIT_USER_PER_SECOND": huge,
        "GALE_MAX_IN_FLIGHT_REQUESTS": "100000",
    }


@dataclass(frozen=True)
class Result:
    mode: str
    route: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx_3xx: int
    requests: int = 0
    errors: int = 0
    cpu_us_per_request: float = 0.0
    """The server process's CPU time (all its threads) per request: unlike throughput, it
    barely moves when a neighbour competes for the cores."""


def _wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is not installed; `make tools` (Debian package wrk)")
    return path


def wrk(
    url: str,
    *,
    duration: float,
    connections: int,
    headers: Mapping[str, str] | None = None,
    script: Path | None = None,
) -> str:
    """wrk's report for ``duration`` seconds of ``connections`` keep-alive connections."""
    command = [_wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    run = subprocess.run(
        pinned([*command, url], LOAD_CPU), capture_output=True, text=True, check=True
    )
    return run.stdout


def _milliseconds(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise RuntimeError(f"cannot read wrk's latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str, *, mode: str, route: str) -> Result:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return Result(
        mode=mode,
        route=route,
        requests_per_second=float(rps[1]),
        p50_ms=_milliseconds(p50[1]),
        p99_ms=_milliseconds(p99[1]),
        non_2xx_3xx=int(non_2xx[1]) if non_2xx else 0,
        requests=int(total[1]) if total else 0,
        errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def median(results: Sequence[Result]) -> Result:
    return sorted(results, key=lambda result: result.requests_per_second)[len(results) // 2]
