"""What request tracing costs: no tracing vs the stock Tornado instrumentation vs Gale's span path.

Each mode starts the real service (``python -m gale_service``, embedded dev database, one
process) and drives it with ``wrk``; only the tracing configuration changes between modes:

- ``none``          OTEL_SDK_DISABLED=true and GALE_TRACE_REQUESTS=false: no spans at all.
- ``stock-off``     ``opentelemetry-instrumentation-tornado``, sampler ``always_off``.
- ``stock-on``      the same, every request sampled and exported over OTLP/HTTP.
- ``gale-off``      Gale's span path (``ObservedApplication``), sampler ``always_off``.
- ``gale-on``       Gale's span path, every request sampled and exported over OTLP/HTTP.
- ``gale-10pct``    Gale's span path with the production default, ``parentbased_traceidratio``
                    at 0.1.

Sampled spans go to an oteltap OTLP receiver in this process, so exporting costs what it
costs in a pod (serialisation, the batch processor's thread, HTTP), without a collector.

Run: ``python -m bench.tracing`` (``--duration``, ``--rounds``, ``--connections``,
``--modes``); each pair is measured ``--rounds`` times, interleaved, and the median is kept.
The stock instrumentation is applied by ``python -m bench.tracing --serve-stock``, which
instruments Tornado and then runs the service's own ``main()``: shipped code never imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from bench.harness import Result, cpu_seconds, free_port, parse_wrk, wrk
from tests.ports import wait_for_port

REPO = Path(__file__).resolve().parents[1]
#: Routes measured: the cheapest full trip through an API handler (problem+json 404, no
#: database) and a 200 with a body; the item routes need a token and the database.
ROUTES = ("/api/v1/nowhere", "/openapi.json")
EXPORT = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "500"}
MODES: Mapping[str, Mapping[str, str]] = {
    "none": {"OTEL_SDK_DISABLED": "true", "GALE_TRACE_REQUESTS": "false"},
    "stock-off": {"GALE_TRACE_REQUESTS": "false", "OTEL_TRACES_SAMPLER": "always_off"},
    "stock-on": {"GALE_TRACE_REQUESTS": "false", "OTEL_TRACES_SAMPLER": "always_on", **EXPORT},
    "gale-off": {"OTEL_TRACES_SAMPLER": "always_off"},
    "gale-on": {"OTEL_TRACES_SAMPLER": "always_on", **EXPORT},
    "gale-10pct": {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
        **EXPORT,
    },
}
STOCK_MODES = frozenset({"stock-off", "stock-on"})
#: Whatever the issue-4 protections are set to, a benchmark must not be rate limited.
UNLIMITED = {
    "GALE_RATE_LIMIT_IP_BURST": "100000000",
    "GALE_RATE_LIMIT_IP_PER_SECOND": "100000000",
    "GALE_MAX_IN_FLIGHT_REQUESTS": "100000",
}


def _kill_strays(run_dir: Path) -> None:
    """Processes still using ``run_dir`` (the embedded DB runs in a session of its own)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(run_dir).encode() in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def _wait_ready(base: str, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service at {base} did not become ready")
        time.sleep(0.2)


@contextmanager
def running_service(mode: str, *, workdir: Path, otlp_port: int) -> Iterator[tuple[str, int]]:
    """The service in ``mode``; yields its URL and pid."""
    port = free_port()
    run_dir = Path(tempfile.mkdtemp(prefix=f"{mode}-", dir=workdir))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GALE_", "OTEL_"))},
        "GALE_PORT": str(port),
        "GALE_DATA_DIR": str(run_dir / "data"),
        "GALE_SECRETS_DIR": str(run_dir / "secrets"),
        "GALE_LOG_FORMAT": "json",
        "GALE_DRAIN_SECONDS": "0",
        "GALE_SHUTDOWN_TIMEOUT_SECONDS": "2",
        "OTEL_TRACES_EXPORTER": "none",
        "PYTHONFAULTHANDLER": "1",  # SIGABRT dumps every thread's stack if it hangs
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}",
        **UNLIMITED,
        **MODES[mode],
    }
    entry = ["bench.tracing", "--serve-stock"] if mode in STOCK_MODES else ["gale_service"]
    process = subprocess.Popen(
        [sys.executable, "-m", *entry],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(run_dir / "stderr.log").open("wb"),
        start_new_session=True,  # its own process group: a kill takes the embedded DB too
    )
    try:
        wait_for_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            time.sleep(1)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            stacks = (run_dir / "stderr.log").read_text(errors="replace")
            print(
                f"bench: the {mode} service did not stop in 30 s; killed. Its threads:\n"
                + "\n".join(stacks.splitlines()[-60:]),
                file=sys.stderr,
            )
        _kill_strays(run_dir)


def measure(
    modes: Sequence[str],
    *,
    duration: float,
    connections: int,
    rounds: int = 3,
    routes: Sequence[str] = ROUTES,
) -> list[Result]:
    """Every mode on every route, ``rounds`` times interleaved; the median round per pair.

    Interleaving spreads a noisy neighbour (CI, another process) over all modes instead of
    letting it land on one. Each measurement follows a 1 s warm-up.
    """
    from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings

    runs: list[Result] = []
    otlp_port = free_port()

    async def with_receiver() -> None:
        receiver = OtelTapHttpProtobufReceiver(
            OtelTapHttpProtobufReceiverSettings(http_port=otlp_port)
        )
        async with receiver:
            await asyncio.to_thread(run_all)

    def run_all() -> None:
        with tempfile.TemporaryDirectory(prefix="gale-bench-") as tmp:
            workdir = Path(tmp)
            for round_ in range(1, rounds + 1):
                for mode in modes:
                    with running_service(mode, workdir=workdir, otlp_port=otlp_port) as service:
                        base, pid = service
                        for route in routes:
                            wrk(base + route, duration=1, connections=connections)
                            before = cpu_seconds(pid)
                            output = wrk(base + route, duration=duration, connections=connections)
                            cpu = cpu_seconds(pid) - before
                            result = parse_wrk(output, mode=mode, route=route)
                            per_request = 1e6 * cpu / max(result.requests, 1)
                            runs.append(replace(result, cpu_us_per_request=per_request))
                print(f"round {round_}/{rounds} done", file=sys.stderr, flush=True)

    asyncio.run(with_receiver())
    results = []
    for mode in modes:
        for route in routes:
            pair = sorted(
                (r for r in runs if (r.mode, r.route) == (mode, route)),
                key=lambda r: r.requests_per_second,
            )
            results.append(pair[len(pair) // 2])
    return results


def table(results: Sequence[Result]) -> str:
    return "\n".join([_header(), *(_row(result) for result in results)])


def _header() -> str:
    return "| mode | route | req/s | CPU µs/req | p50 ms | p99 ms |\n|---|---|---:|---:|---:|---:|"


def _row(result: Result) -> str:
    return (
        f"| {result.mode} | `{result.route}` | {result.requests_per_second:,.0f} | "
        f"{result.cpu_us_per_request:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} |"
    )


def summary(results: Sequence[Result]) -> str:
    """Per route, each mode's throughput and CPU per request relative to ``none``."""
    lines = []
    for route in dict.fromkeys(r.route for r in results):
        base = next((r for r in results if r.route == route and r.mode == "none"), None)
        if base is None:
            continue
        parts = [
            f"{r.mode} {100 * r.requests_per_second / base.requests_per_second:.0f}% req/s, "
            f"{r.cpu_us_per_request - base.cpu_us_per_request:+,.0f} µs CPU"
            for r in results
            if r.route == route and r.mode != "none"
        ]
        lines.append(f"{route} vs no tracing: " + "; ".join(parts))
    return "\n".join(lines)


def serve_stock() -> None:
    """The service with the stock Tornado instrumentation applied before it starts."""
    from opentelemetry.instrumentation.tornado import TornadoInstrumentor

    TornadoInstrumentor().instrument()
    from gale_service.__main__ import main as service_main

    service_main()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing", description=__doc__)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--serve-stock", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_stock:
        sys.argv = [sys.argv[0]]
        serve_stock()
        return
    results = measure(
        args.modes, duration=args.duration, connections=args.connections, rounds=args.rounds
    )
    print(table(results))
    print(summary(results))


if __name__ == "__main__":
    main()
