"""A test that hangs fails within its timeout, fixtures and teardown included; CI never hangs.

Each case runs a tiny test file in a child pytest configured like this suite (its
``[tool.pytest.ini_options]`` with a 2 s timeout). The child's own phase durations say when
the timeout fired; the wall clock around it only bounds the whole run (interpreter start-up
and collection are slow on a loaded CI machine).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 2
GRACE = 3

HANGING_TEARDOWN = """
    import asyncio
    import pytest

    @pytest.fixture
    async def hangs_in_teardown():
        yield
        await asyncio.Event().wait()

    async def test_hangs(hangs_in_teardown):
        pass

    def test_next():
        pass
"""

#: What the hang in test_outage.py looked like: a task that swallows every cancellation (as
#: PyMongo's Condition.wait did, re-acquiring a leaked lock) stalls the loop's own shutdown.
STUCK_CANCELLING = """
    import asyncio
    import pytest

    async def swallows_cancellation():
        while True:
            try:
                await asyncio.get_running_loop().create_future()
            except asyncio.CancelledError:
                pass

    @pytest.fixture
    async def leaves_a_stuck_task():
        yield
        asyncio.get_running_loop().create_task(swallows_cancellation())
        await asyncio.sleep(0)

    async def test_stuck(leaves_a_stuck_task):
        pass

    def test_next():
        pass
"""

#: The timeout's exception lands inside a task's step and is lost there: only the watchdog
#: can end this one.
TIMEOUT_LOST_IN_A_TASK = """
    import asyncio
    import time

    async def busy():
        while True:
            try:
                time.sleep(0.05)
                await asyncio.sleep(0)
            except BaseException:
                pass

    async def test_lost():
        task = asyncio.get_running_loop().create_task(busy())
        await asyncio.Event().wait()

    def test_never_reached():
        pass
"""


def run_suite(tmp_path: Path, source: str) -> tuple[subprocess.CompletedProcess[str], float]:
    options = dict(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    )
    options |= {"timeout": TIMEOUT, "hang_watchdog_grace": str(GRACE), "testpaths": ["."]}
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{key} = {_toml(value)}" for key, value in options.items()]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    (tmp_path / "test_case.py").write_text(textwrap.dedent(source))
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.hang_watchdog",
            "-p",
            "no:cacheprovider",
            "--durations=0",
            "--durations-min=0",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, time.monotonic() - started


def phase_seconds(result: subprocess.CompletedProcess[str], phase: str, test: str) -> float:
    """How long the child's ``phase`` of ``test`` took, from its ``--durations`` report."""
    match = re.search(rf"([0-9.]+)s {phase} +test_case.py::{test}$", result.stdout, re.M)
    assert match, result.stdout
    return float(match.group(1))


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_a_hanging_async_teardown_fails_in_time(tmp_path: Path) -> None:
    result, elapsed = run_suite(tmp_path, HANGING_TEARDOWN)
    assert "ERROR test_case.py::test_hangs - Failed: Timeout" in result.stdout, result.stdout
    assert "2 passed, 1 error" in result.stdout, "the run goes on with the next test"
    assert result.returncode == 1
    assert phase_seconds(result, "teardown", "test_hangs") < TIMEOUT + 1
    assert elapsed < TIMEOUT + 30, f"took {elapsed:.1f}s"


def test_a_task_stuck_cancelling_fails_in_time(tmp_path: Path) -> None:
    result, elapsed = run_suite(tmp_path, STUCK_CANCELLING)
    assert "ERROR test_case.py::test_stuck - Failed: Timeout" in result.stdout, result.stdout
    assert "2 passed, 1 error" in result.stdout
    assert phase_seconds(result, "teardown", "test_stuck") < TIMEOUT + 1
    assert elapsed < TIMEOUT + 30, f"took {elapsed:.1f}s"


def test_a_lost_timeout_ends_the_run(tmp_path: Path) -> None:
    result, elapsed = run_suite(tmp_path, TIMEOUT_LOST_IN_A_TASK)
    assert result.returncode == 1
    assert "hang watchdog: test_case.py::test_lost still running" in result.stderr, result.stderr
    assert "coro=<busy()" in result.stderr, "the dump shows the pending tasks"
    assert "test_never_reached" not in result.stdout
    assert elapsed < TIMEOUT + GRACE + 30, f"took {elapsed:.1f}s"
