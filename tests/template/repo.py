"""Fresh copies of this checkout for the template tests, and running commands in them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Test",
    "GIT_AUTHOR_EMAIL": "template-test@example.com",
    "GIT_COMMITTER_NAME": "Template Test",
    "GIT_COMMITTER_EMAIL": "template-test@example.com",
}


def environment() -> dict[str, str]:
    """This run's environment without its project's settings or virtualenv; uv offline.

    A copy gets its own ``.venv`` from the uv cache this checkout's ``uv sync`` filled, so
    no test needs the network.
    """
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GALE_", "VIRTUAL_ENV", "COV_", "COVERAGE_", "PYTEST_"))
    }
    return kept | IDENTITY | {"UV": uv(), "UV_OFFLINE": "1", "UV_NO_PROGRESS": "1"}


def uv() -> str:
    """The uv this run uses (`make` exports it as UV), else the one `make` installs."""
    found = os.environ.get("UV") or shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).is_file():
        raise AssertionError("uv is not installed: run the tests through `make test`")
    return found


def run(
    cwd: Path, *argv: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``cwd``; on an unexpected exit, fail with its output."""
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        output = f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}\n{output}")
    return done


def git(cwd: Path, *args: str) -> str:
    return run(cwd, "git", *args).stdout


def snapshot(dest: Path) -> Path:
    """A git clone of this checkout's HEAD, its uncommitted changes committed on top.

    Tests then see the work tree as it is (deleted, changed and new files alike) without
    touching this checkout's index or stash.
    """
    require_tool("git", install="apt-get install git")
    git(ROOT, "rev-parse", "--is-inside-work-tree")
    run(ROOT, "git", "clone", "--quiet", str(ROOT), str(dest))
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    present = {p for p in listed.split("\0") if p and (ROOT / p).is_file()}
    cloned = {p for p in git(dest, "ls-files", "-z").split("\0") if p}
    for path in cloned - present:
        (dest / path).unlink()
    for path in present:
        source, target = ROOT / path, dest / path
        if not target.is_file() or source.read_bytes() != target.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    if git(dest, "status", "--porcelain"):
        git(dest, "add", "-A")
        git(dest, "commit", "--quiet", "-m", "the checkout's uncommitted changes")
    return dest


def tool(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -m tools.adopt`` of the copy at ``cwd``, with this run's Python and ruff."""
    return run(cwd, sys.executable, "-m", "tools.adopt", *args, check=check)


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, "commit", "--quiet", "-m", message)
    return git(cwd, "rev-parse", "HEAD").strip()
