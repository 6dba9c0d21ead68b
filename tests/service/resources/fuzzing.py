"""Running schemathesis against a live service's own OpenAPI document, the same way for
every resource: all checks, a fixed seed, the hooks that send NDJSON bodies."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]
EXAMPLES = 12


async def schemathesis_output(
    base_url: str, *, config: Path, report: Path, token: str | None, extra: tuple[str, ...] = ()
) -> str:
    """Schemathesis's whole output; fails the test (with that output) on any finding."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        *extra,
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "20260101",
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--report-dir",
        str(report),
        "--no-color",
    ]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    process = await asyncio.create_subprocess_exec(
        *command,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.service.fuzz_hooks"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=150)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    return text
