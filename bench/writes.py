"""Writes under concurrency: does POST throughput hold as writers are added?

One run starts a SecantusDB (``--sync-on-commit``, as the fixtures do), seeds one item, and
for each driver (PyMongo async, Motor) starts the real ``python -m gale_service`` and runs
``wrk`` with a Lua script through four mixes:

- ``mix/64``: 64 connections, every other request a ``POST /api/v1/items``, the others a
  ``GET`` of the seeded item;
- ``post/1``, ``post/8``, ``post/64``: only POSTs, on 1, 8 and 64 connections.

It prints requests per second, p99 latency and the error count (non-2xx answers plus socket
errors and timeouts) for each, and whether POST throughput at 64 connections is at least
that at 8 (no collapse under contention). Every POST is a transaction appending its outbox
event, so a shared hot document would show here as errors and a falling curve. Absolute
numbers depend on the machine and its neighbours. Run: ``python -m bench.writes``
(``--duration``, ``--drivers``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    bearer,
    database,
    free_port,
    process,
    seed_item,
    service_environment,
    wait_for,
)

MIXES = (("mix/64", 64, True), ("post/1", 1, False), ("post/8", 8, False), ("post/64", 64, False))
LUA = """
local counter = 0
local item = "%(item)s"
local body = '{"name":"bench write","tags":["bench"]}'
-- wrk.format replaces wrk.headers (the -H options) by the table it is given: copy them.
local function headers(extra)
  local all = {}
  for name, value in pairs(wrk.headers) do all[name] = value end
  for name, value in pairs(extra) do all[name] = value end
  return all
end
-- Error answers by status, reported by done() (the summary only counts non-2xx/3xx).
statuses = {}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
response = function(status)
  if status >= 400 then statuses[status] = (statuses[status] or 0) + 1 end
end
done = function()
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do io.write("status ", status, " ", n, "\\n") end
  end
end
request = function()
  counter = counter + 1
  if %(mixed)s and counter %% 2 == 0 then
    return wrk.format("GET", "/api/v1/items/" .. item, headers({}))
  end
  return wrk.format("POST", "/api/v1/items", headers({["Content-Type"] = "application/json"}), body)
end
"""


@dataclass(frozen=True)
class Measured:
    requests_per_second: float
    p99_ms: float
    errors: int
    #: Error answers by HTTP status (socket errors and timeouts are only in ``errors``).
    statuses: dict[int, int]


def _milliseconds(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if match is None:
        raise RuntimeError(f"cannot read wrk's latency {value!r}")
    return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]


def parse(output: str) -> Measured:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (rps and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    statuses = {
        int(s): int(n) for s, n in re.findall(r"^status (\d+) (\d+)$", output, re.MULTILINE)
    }
    return Measured(float(rps[1]), _milliseconds(p99[1]), errors, statuses)


def wrk(url: str, *, duration: int, connections: int, headers: dict[str, str], script: Path) -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is not installed; `make tools` (Debian package wrk)")
    command = [path, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script)]
    command += ["--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout


def measure_driver(
    driver: str, *, uri: str, item_id: str, workdir: Path, duration: int
) -> dict[str, Measured]:
    port = free_port()
    environment = service_environment(uri, port, workdir) | {"GALE_MONGO_DRIVER": driver}
    auth = {"Authorization": f"Bearer {bearer()}"}
    results: dict[str, Measured] = {}
    with process([sys.executable, "-m", "gale_service"], env=environment):
        wait_for(f"http://127.0.0.1:{port}/api/v1/items/{item_id}", headers=auth)
        for name, connections, mixed in MIXES:
            script = workdir / f"{name.replace('/', '-')}.lua"
            script.write_text(LUA % {"item": item_id, "mixed": "true" if mixed else "false"})
            output = wrk(
                f"http://127.0.0.1:{port}/",
                duration=duration,
                connections=connections,
                headers=auth,
                script=script,
            )
            results[name] = parse(output)
    return results


def report(results: dict[str, dict[str, Measured]]) -> str:
    lines = [f"{'driver':<8} {'mix':<8} {'req/s':>8} {'p99 ms':>9} {'errors':>7}  by status"]
    for driver, measured in results.items():
        for name, result in measured.items():
            lines.append(
                f"{driver:<8} {name:<8} {result.requests_per_second:>8.0f} "
                f"{result.p99_ms:>9.1f} {result.errors:>7}  {result.statuses or ''}"
            )
        ratio = measured["post/64"].requests_per_second / measured["post/8"].requests_per_second
        verdict = "ok" if ratio >= 1.0 else "COLLAPSE"
        lines.append(f"{driver:<8} POST throughput 64/8 connections: {ratio:.2f} ({verdict})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.writes", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=int, default=8, help="seconds per mix")
    parser.add_argument("--drivers", nargs="+", default=["pymongo", "motor"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gale-bench-writes-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        uri = stack.enter_context(database(workdir))
        item_id = seed_item(uri)
        results = {
            driver: measure_driver(
                driver, uri=uri, item_id=item_id, workdir=workdir, duration=args.duration
            )
            for driver in args.drivers
        }
    print(report(results))
    if any(m.errors for measured in results.values() for m in measured.values()):
        raise SystemExit("bench.writes: some writes failed")


if __name__ == "__main__":
    main()
