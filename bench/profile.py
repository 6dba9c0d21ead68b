"""``python -m bench.profile``: where Gale's request path spends its CPU, sampled with py-spy.

Starts the service as :mod:`bench.request_path` does (``--server``, default ``gale``), drives
one route with wrk and records the server with ``py-spy`` for the same time. Writes the
collapsed stacks (``flamegraph.pl``/speedscope input) under ``bench/results/`` and prints the
functions with the largest inclusive share of samples, file and line collapsed away.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import wrk
from bench.request_path import GALE_MODES, RESULTS, backends, start


def inclusive_shares(collapsed: str) -> tuple[Counter[str], int]:
    """Samples per function name (counted once per stack it appears in), and the total."""
    shares: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        for name in {frame.split(" (")[0] for frame in stack.split(";")}:
            shares[name] += samples
    return shares, total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--server", choices=list(GALE_MODES), default="gale")
    parser.add_argument("--route", choices=["item", "livez"], default="item")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = RESULTS / f"profile-{args.server}-{args.route}-{stamp}.collapsed"
    with backends("gale-profile-") as shared, start(args.server, shared) as server:
        path, headers = (
            (server.item_path, server.headers) if args.route == "item" else ("/livez", {})
        )
        load = threading.Thread(
            target=wrk,
            args=(server.base + path,),
            kwargs={
                "duration": args.duration + 2,
                "connections": args.connections,
                "headers": headers,
            },
        )
        load.start()
        subprocess.run(
            [
                py_spy,
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(args.duration),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(output),
                "--nonblocking",
            ],
            check=True,
            capture_output=True,
        )
        load.join()
    shares, total = inclusive_shares(output.read_text())
    print(f"{total} samples; inclusive share of the busiest functions:")
    for name, samples in shares.most_common(args.top):
        print(f"{100 * samples / total:6.1f} %  {name}")
    print(f"stacks: {output}")


if __name__ == "__main__":
    main()
