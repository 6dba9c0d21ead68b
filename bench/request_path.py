"""Gale's request path against its peers: ``python -m bench`` (``make bench``).

One run starts one SecantusDB and seeds one item, then measures, one server after the other
and interleaved over ``--rounds`` (the median round is kept), the same two routes:

- ``item``: the authenticated read, ``GET /api/v1/items/{id}`` (peers: ``/items/{id}``);
- ``livez``: the liveness probe kubelet calls on every pod every few seconds.

Servers: ``bare`` (Tornado, a handler doing the ``find_one``), ``starlette`` and ``fastapi``
(uvicorn with uvloop and httptools; the FastAPI peer verifies the same bearer JWT and
validates its response through pydantic), and Gale's full default stack three ways: ``gale``
(10 % of requests traced, as in production, exported to a real OTLP receiver),
``gale-traced`` (every request traced and exported) and ``gale-untraced`` (no spans).

``--against REF`` also runs each selected Gale mode from the service as committed at a git
``REF`` (``gale-untraced@HEAD~1``), in the same run and interleaved with the others: on a busy
machine, the before/after of a change is only comparable that way.

Each server runs alone on core 0; wrk, the database and the OTLP receiver on core 1
(``taskset``, when the machine has it and two cores). Absolute numbers depend on the
machine, and SecantusDB is much slower than mongod, so the ratios printed at the end are what
to compare. The figures are also written as JSON under ``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from bench.harness import (
    LOAD_CPU,
    REPO,
    SERVER_CPU,
    Result,
    bearer,
    cpu_seconds,
    database,
    free_port,
    median,
    parse_wrk,
    pinned,
    process,
    seed_item,
    service_environment,
    wait_for,
    wrk,
)

RESULTS = Path(__file__).parent / "results"
EXPORT = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "500"}
GALE_MODES: Mapping[str, Mapping[str, str]] = {
    "gale": {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
        **EXPORT,
    },
    "gale-traced": {"OTEL_TRACES_SAMPLER": "always_on", **EXPORT},
    "gale-untraced": {"OTEL_SDK_DISABLED": "true", "GALE_TRACE_REQUESTS": "false"},
}
PEERS = {
    "bare": "bench.peers.bare_tornado",
    "starlette": "bench.peers.starlette_peer",
    "fastapi": "bench.peers.fastapi_peer",
}
SERVERS = (*PEERS, *GALE_MODES)


@dataclass(frozen=True)
class Target:
    """``server`` on ``route`` must reach ``at_least`` times ``baseline`` on the same route."""

    route: str
    server: str
    baseline: str
    at_least: float


TARGETS = (
    Target("item", "gale", "fastapi", 1.0),
    Target("livez", "gale", "bare", 0.9),
    Target("item", "gale-traced", "gale-untraced", 0.8),
)


@dataclass(frozen=True)
class Server:
    base: str
    pid: int
    item_path: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Backends:
    """What every server of a run shares: the database, its seeded item, an OTLP receiver."""

    uri: str
    item_id: str
    otlp_port: int
    workdir: Path


@contextmanager
def backends(prefix: str = "gale-bench-") -> Iterator[Backends]:
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        uri = stack.enter_context(database(workdir))
        otlp_port = free_port()
        sink = [sys.executable, "-m", "bench.otlp_sink", str(otlp_port)]
        stack.enter_context(process(pinned(sink, LOAD_CPU)))
        yield Backends(uri, seed_item(uri), otlp_port, workdir)


def checkout(ref: str, workdir: Path) -> Path:
    """The ``service/`` tree as committed at ``ref``, extracted under ``workdir``."""
    tree = workdir / f"at-{ref.replace('/', '_')}"
    if not tree.exists():
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "service"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree / "service"


@contextmanager
def start(name: str, shared: Backends) -> Iterator[Server]:
    """Server ``name`` (``mode@ref`` for a committed version) on a free port, pinned to the
    server core, answering."""
    uri, item_id, otlp_port, workdir = shared.uri, shared.item_id, shared.otlp_port, shared.workdir
    mode, _, ref = name.partition("@")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {bearer()}"}
    log = workdir / f"{name}.log"
    if name in PEERS:
        command = [sys.executable, "-m", PEERS[name], uri, "bench", str(port)]
        headers = auth if name == "fastapi" else {}
        with process(pinned(command, SERVER_CPU), log=log) as child:
            server = Server(base, child.pid, f"/items/{item_id}", headers)
            wait_for(base + server.item_path, headers=headers)
            yield server
        return
    environment = service_environment(uri, port, workdir / name) | {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}",
        **GALE_MODES[mode],
    }
    if ref:
        # Ahead of the editable install on sys.path: that version's gale_service is imported.
        source = str(checkout(ref, workdir))
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [source, environment.get("PYTHONPATH")])
        )
    command = [sys.executable, "-m", "gale_service"]
    with process(pinned(command, SERVER_CPU), env=environment, log=log) as child:
        server = Server(base, child.pid, f"/api/v1/items/{item_id}", auth)
        wait_for(base + "/readyz")
        wait_for(base + server.item_path, headers=auth)
        yield server


def measure(server: Server, name: str, *, duration: int, connections: int) -> list[Result]:
    results = []
    for route, path, headers in (
        ("item", server.item_path, server.headers),
        ("livez", "/livez", {}),
    ):
        url = server.base + path
        wrk(url, duration=1, connections=connections, headers=headers)  # warm-up
        before = cpu_seconds(server.pid)
        output = wrk(url, duration=duration, connections=connections, headers=headers)
        cpu = cpu_seconds(server.pid) - before
        result = parse_wrk(output, mode=name, route=route)
        results.append(replace(result, cpu_us_per_request=1e6 * cpu / max(result.requests, 1)))
    return results


@dataclass(frozen=True)
class Rounds:
    """Every measurement of a run, by round, and the median round of each server and route."""

    medians: list[Result]
    by_round: list[list[Result]]

    def of(self, server: str, route: str) -> list[Result]:
        return [r for runs in self.by_round for r in runs if (r.mode, r.route) == (server, route)]


def run(*, servers: Sequence[str], duration: int, connections: int, rounds: int) -> Rounds:
    by_round: list[list[Result]] = []
    with backends() as shared:
        for round_ in range(1, rounds + 1):
            runs: list[Result] = []
            for name in servers:
                with start(name, shared) as server:
                    runs += measure(server, name, duration=duration, connections=connections)
            by_round.append(runs)
            print(f"round {round_}/{rounds} done", file=sys.stderr, flush=True)
    everything = [r for runs in by_round for r in runs]
    medians = [
        median([r for r in everything if (r.mode, r.route) == (name, route)])
        for route in ("item", "livez")
        for name in servers
    ]
    return Rounds(medians, by_round)


def _find(results: Sequence[Result], server: str, route: str) -> Result | None:
    return next((r for r in results if (r.mode, r.route) == (server, route)), None)


def table(rounds: Rounds) -> str:
    lines = [
        "| route | server | req/s | p50 ms | p99 ms | CPU µs/req | CPU µs/req, all rounds "
        "| non-2xx | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rounds.medians:
        cpus = sorted(x.cpu_us_per_request for x in rounds.of(r.mode, r.route))
        lines.append(
            f"| {r.route} | {r.mode} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} | "
            f"{r.p99_ms:.2f} | {r.cpu_us_per_request:,.0f} | {cpus[0]:,.0f} to {cpus[-1]:,.0f} | "
            f"{r.non_2xx_3xx} | {r.errors} |"
        )
    return "\n".join(lines)


def _ratios(server: Result, baseline: Result) -> tuple[float, float]:
    """Throughput ratio, and the same comparison by CPU time per request (on a machine shared
    with other work throughput follows the neighbours' load, CPU per request much less)."""
    return (
        server.requests_per_second / baseline.requests_per_second,
        baseline.cpu_us_per_request / max(server.cpu_us_per_request, 1e-9),
    )


def verdicts(rounds: Rounds) -> list[dict[str, object]]:
    """Each target's ratio from the median rounds, whether it was met, and the range of the
    ratio over the rounds (each round's two servers were measured minutes apart at most)."""
    out: list[dict[str, object]] = []
    for target in TARGETS:
        server = _find(rounds.medians, target.server, target.route)
        baseline = _find(rounds.medians, target.baseline, target.route)
        if server is None or baseline is None:
            continue
        ratio, cpu_ratio = _ratios(server, baseline)
        per_round = [
            _ratios(s, b)
            for runs in rounds.by_round
            if (s := _find(runs, target.server, target.route))
            and (b := _find(runs, target.baseline, target.route))
        ]
        out.append(
            {
                **asdict(target),
                "ratio": round(ratio, 3),
                "cpu_ratio": round(cpu_ratio, 3),
                "ratio_range": [
                    round(min(r for r, _ in per_round), 3),
                    round(max(r for r, _ in per_round), 3),
                ],
                "cpu_ratio_range": [
                    round(min(c for _, c in per_round), 3),
                    round(max(c for _, c in per_round), 3),
                ],
                "met": ratio >= target.at_least,
            }
        )
    return out


def write_json(rounds: Rounds, ratios: list[dict[str, object]], args: object) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"request-path-{stamp}.json"
    document = {
        "benchmark": "request-path",
        "at": stamp,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "settings": vars(args),
        "results": [asdict(r) for r in rounds.medians],
        "rounds": [[asdict(r) for r in runs] for runs in rounds.by_round],
        "targets": ratios,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved; the median is kept")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument(
        "--against", metavar="REF", help="also run the selected Gale modes as committed at REF"
    )
    args = parser.parse_args(argv)
    servers = list(args.servers)
    if args.against:
        servers += [f"{name}@{args.against}" for name in args.servers if name in GALE_MODES]
    rounds = run(
        servers=servers,
        duration=args.duration,
        connections=args.connections,
        rounds=args.rounds,
    )
    ratios = verdicts(rounds)
    print(table(rounds))
    for verdict in ratios:
        print(
            f"{verdict['route']}: {verdict['server']}/{verdict['baseline']} = "
            f"{verdict['ratio']:.2f} (target ≥ {verdict['at_least']}) "
            f"{'met' if verdict['met'] else 'NOT MET'} (rounds {_span(verdict['ratio_range'])}); "
            f"by CPU µs/req {verdict['cpu_ratio']:.2f} (rounds {_span(verdict['cpu_ratio_range'])})"
        )
    print(f"figures: {write_json(rounds, ratios, args)}")


def _span(bounds: object) -> str:
    low, high = cast("list[float]", bounds)
    return f"{low:.2f} to {high:.2f}"


if __name__ == "__main__":
    main()
