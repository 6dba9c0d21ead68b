"""``python -m bench.operator``: Gale's operator against a do-nothing kopf handler.

For 50, 200 and 500 Microservices over 5 namespaces on the emulated API server (the one
the tests use: zero values dropped, selectors, garbage collection), each operator process
is started fresh and timed from the first create until every object is Ready (Gale: the
``Ready`` condition, with this script playing the Deployment controller; the baseline: its
handler's result in the status). Reported per run: seconds to all Ready, the operator's
CPU seconds and peak RSS (from /proc), and its API requests per object: all of them, start-up
included; those made after start-up (the per-object cost: a process lists, discovers and
starts its watches once, whatever the count); and the writes among them. Ratios are to the
baseline of the same run.

Both operators run as the image runs them: with their bytecode compiled ahead (the image
compiles it at build time), here into a pycache of this run's own, filled by one untimed
warm-up run of each. Without that, whichever process has no bytecode pays for compiling
its imports (kubernetes_asyncio alone is about 3 CPU-s), which is start-up noise, not the
operator's cost.

``--faults 0.2`` instead runs Gale alone with that share of its writes failing (409, 429 with
``Retry-After``, 500; never 409 where a real server cannot answer one: Events, kopf's
finalizer patches) and reports the p50/p99 seconds to Ready, duplicates, and how long
deleting them all takes under the same faults.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from tests.operator.cluster import (
    CRD_PATH,
    MS,
    ROOT,
    SAMPLE_PATH,
    Api,
    load_yaml,
    start_apiserver,
    start_operator,
    stop,
)
from tests.ports import wait_for_port

NAMESPACES = [f"bench-{i}" for i in range(5)]
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
CLOCK_TICKS = 100  # USER_HZ on Linux


def _cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _peak_rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _play_deployment_controller(api: Api, stopped: threading.Event) -> None:
    """Mark every Deployment available, as the Deployment controller would."""
    done: set[str] = set()
    while not stopped.is_set():
        try:
            _mark_available(api, done)
        except requests.RequestException as exc:  # an overloaded emulator: try again
            print(f"deployment controller stand-in: {exc}", file=sys.stderr)
        stopped.wait(0.5)


def _mark_available(api: Api, done: set[str]) -> None:
    for dep in (api.get("/apis/apps/v1/deployments") or {}).get("items", []):
        meta = dep["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        if key in done:
            continue
        replicas = dep["spec"].get("replicas", 1)
        counts = dict.fromkeys(
            ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"), replicas
        )
        api.patch(
            f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}/status",
            {"status": {"observedGeneration": meta["generation"], **counts}},
        )
        done.add(key)


def _gale_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _baseline_ready(obj: dict[str, Any]) -> bool:
    return bool((obj.get("status") or {}).get("noop"))


def fault_rules(share: float) -> list[dict[str, Any]]:
    """Three fault kinds on the operator's writes, together about ``share`` of them."""
    anywhere = "/namespaces/bench-"
    scopes = {
        409: f"{anywhere}[0-9]+/(?!events)(?!microservices/[^/]+$)",
        429: anywhere,
        500: anywhere,
    }
    rules: list[dict[str, Any]] = [
        {"method": method, "path": scopes[status], "agent": "^gale-operator/", "status": status}
        | {"rate": share / 3}
        | ({"retryAfter": 1} if status == 429 else {})
        for method in ("POST", "PATCH")
        for status in (409, 429, 500)
    ]
    rules[0]["seed"] = 14
    return rules


def python_env(pycache: pathlib.Path) -> dict[str, str]:
    """What both operators run with: bytecode read from, and written once to, ``pycache``."""
    return {"PYTHONPYCACHEPREFIX": str(pycache), "PYTHONDONTWRITEBYTECODE": ""}


def warm_up(pycache: pathlib.Path) -> None:
    """One untimed run of each operator, so both find every module they import compiled."""
    for name in ("baseline", "gale"):
        with tempfile.TemporaryDirectory(prefix=f"bench-operator-warm-{name}-") as tmp:
            run_one(name, 1, pathlib.Path(tmp), env=python_env(pycache))


def run_one(
    name: str,
    count: int,
    workdir: pathlib.Path,
    *,
    faults: float = 0.0,
    env: dict[str, str] | None = None,
) -> dict[str, float]:
    server, api = start_apiserver(workdir)
    stopped = threading.Event()
    player = threading.Thread(target=_play_deployment_controller, args=(api, stopped))
    operator: subprocess.Popen[bytes] | None = None
    try:
        api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_yaml(CRD_PATH))
        for ns in NAMESPACES:
            api.post(
                f"/api/v1/namespaces/{ns}/secrets",
                {"metadata": {"name": "gale-mongodb"}, "stringData": {"uri": "mongodb://m"}},
            )
        ready: Callable[[dict[str, Any]], bool]
        with (workdir / "operator.log").open("wb") as log:
            if name == "gale":
                operator, ports = start_operator(
                    workdir, "--reconcile-interval", "60", env=env, log=log, verbose=False
                )
                wait_for_port(ports["health_port"], timeout=60)
                ready = _gale_ready
            else:
                operator = subprocess.Popen(
                    [sys.executable, "-m", "bench.operator_baseline"],
                    cwd=ROOT,
                    env={**os.environ, "KUBECONFIG": str(workdir / "kubeconfig"), **(env or {})},
                    stdout=log,
                    stderr=log,
                )
                ready = _baseline_ready
            time.sleep(2.0)  # let the operator list and start watching before the clock runs
            if faults:
                api.post("/_emulator/faults", fault_rules(faults))
            player.start()
            at_start = len(_operator_requests(workdir))
            body = load_yaml(SAMPLE_PATH)
            started = time.monotonic()
            for i in range(count):
                ns = NAMESPACES[i % len(NAMESPACES)]
                body["metadata"].update(name=f"ms{i}", namespace=ns)
                api.post(f"{MS}/namespaces/{ns}/microservices", body)
            ready_at: dict[str, float] = {}
            while True:
                try:
                    items = api.get(f"{MS}/microservices")["items"]
                except requests.RequestException:
                    items = []
                for item in items:
                    if ready(item):
                        ready_at.setdefault(item["metadata"]["name"], time.monotonic() - started)
                if len(ready_at) == count:
                    break
                if time.monotonic() - started > 600:
                    raise RuntimeError(f"{name}: not all {count} Ready after 600 s")
                time.sleep(0.5)
            took = time.monotonic() - started
            cpu, rss = _cpu_seconds(operator.pid), _peak_rss_mib(operator.pid)
            times = sorted(ready_at.values())
            extra: dict[str, float] = {
                "p50": times[len(times) // 2],
                "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
            }
            if faults:
                extra |= _delete_all(api, count)
                extra["fired"] = float(sum(rule["fired"] for rule in api.get("/_emulator/faults")))
        mine = _operator_requests(workdir)
        return {
            **extra,
            "seconds": took,
            "cpu": cpu,
            "rss": rss,
            "requests": len(mine) / count,
            "after_start": (len(mine) - at_start) / count,
            "writes": sum(e["method"] in WRITES for e in mine) / count,
        }
    finally:
        stopped.set()
        if player.is_alive():
            player.join(timeout=10)
        if operator is not None:
            stop(operator)
        stop(server)


def _operator_requests(workdir: pathlib.Path) -> list[dict[str, Any]]:
    """The emulator's access-log entries of the operator (the bench's own client excluded)."""
    lines = (workdir / "access.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]
    return [e for e in entries if not e["agent"].startswith("python-requests")]


def _delete_all(api: Api, count: int) -> dict[str, float]:
    """Delete every Microservice; seconds until all are gone, and duplicate Deployments."""
    deployments = api.get("/apis/apps/v1/deployments")["items"]
    names = [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in deployments]
    started = time.monotonic()
    for i in range(count):
        api.delete(f"{MS}/namespaces/{NAMESPACES[i % len(NAMESPACES)]}/microservices/ms{i}")
    left = count
    while left and time.monotonic() - started < 300:
        time.sleep(0.5)
        left = len(api.get(f"{MS}/microservices")["items"])
    return {
        "deleted_s": time.monotonic() - started,
        "left": float(left),
        "duplicates": float(len(names) - len(set(names))),
        "deployments": float(len(names)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="50,200,500", help="comma-separated object counts")
    parser.add_argument("--faults", type=float, default=0.0, help="share of writes failing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-operator-pycache-") as pycache:
        warm_up(pathlib.Path(pycache))
        report(args, env=python_env(pathlib.Path(pycache)))


def report(args: argparse.Namespace, *, env: dict[str, str]) -> None:
    if args.faults:
        for count in (int(c) for c in args.counts.split(",")):
            with tempfile.TemporaryDirectory(prefix="bench-operator-faults-") as tmp:
                r = run_one("gale", count, pathlib.Path(tmp), faults=args.faults, env=env)
            print(
                f"{count} objects, {args.faults:.0%} of writes failing: all Ready in "
                f"{r['seconds']:.1f} s (p50 {r['p50']:.1f} s, p99 {r['p99']:.1f} s), "
                f"{r['deployments']:.0f} Deployments ({r['duplicates']:.0f} duplicate), "
                f"all deleted in {r['deleted_s']:.1f} s ({r['left']:.0f} left); "
                f"{r['fired']:.0f} faults injected, {r['writes']:.1f} operator writes/object",
                flush=True,
            )
        return
    print(
        f"{'objects':>7} {'operator':<9} {'s to Ready':>10} {'CPU s':>7} {'peak MiB':>8} "
        f"{'req/obj':>7} {'after start':>11} {'writes/obj':>10} {'CPU x base':>9}"
    )
    for count in (int(c) for c in args.counts.split(",")):
        results = {}
        for name in ("baseline", "gale"):
            with tempfile.TemporaryDirectory(prefix=f"bench-operator-{name}-") as tmp:
                results[name] = run_one(name, count, pathlib.Path(tmp), env=env)
        for name, r in results.items():
            ratio = r["cpu"] / results["baseline"]["cpu"] if results["baseline"]["cpu"] else 0
            print(
                f"{count:>7} {name:<9} {r['seconds']:>10.2f} {r['cpu']:>7.2f} {r['rss']:>8.0f} "
                f"{r['requests']:>7.2f} {r['after_start']:>11.2f} {r['writes']:>10.2f} "
                f"{ratio:>8.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
