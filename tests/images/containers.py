"""The built images, as the tests run them: buildah's storage, read as a pod would see it.

``make images`` (:mod:`images.build`) builds them; the ``images`` fixture calls the same code,
so a test run builds what changed and reuses the rest (an unchanged build is a tag lookup).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from images.build import INSTALL_HINT, BuildError, ensure_images, inspect_image
from tests.tools import require_tool

LAUNCH = Path(__file__).with_name("launch.py")


def buildah(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("buildah", install=INSTALL_HINT), "--storage-driver", "vfs", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def build_images() -> dict[str, str]:
    """Both images, built where their inputs changed; fails saying how to get buildah."""
    require_tool("buildah", install=INSTALL_HINT)
    require_tool("unshare", install="apt-get install util-linux")
    try:
        built = ensure_images()
    except BuildError as error:
        pytest.fail(f"make images failed: {error}", pytrace=False)
    for each in built.values():
        state = "unchanged" if each.cached else "built"
        print(f"{each.ref}: {each.size / 1e6:.0f} MB, {state} in {each.seconds:.1f} s")
    # The keyed names: another clone's `make images` may move :dev while this run reads it.
    return {component: each.keyed for component, each in built.items()}


@dataclass(frozen=True)
class Image:
    """One built image: its configuration and its root filesystem (a buildah container)."""

    ref: str
    container: str
    rootfs: Path
    config: dict[str, Any]
    layers: list[int]

    @property
    def env(self) -> dict[str, str]:
        pairs = (entry.partition("=") for entry in self.config.get("Env") or [])
        return {name: value for name, _, value in pairs}

    @property
    def user(self) -> str:
        return str(self.config["User"])

    @property
    def entrypoint(self) -> list[str]:
        return [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]

    @property
    def size(self) -> int:
        return sum(self.layers)

    def launch(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        binds: Sequence[tuple[Path, str]] = (),
        stdout: Any = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the image, read-only root, as its user (see launch.py)."""
        spec = {
            "argv": list(argv),
            "env": self.env | (env or {}),
            "workdir": self.config.get("WorkingDir") or "/",
            "binds": [[str(source), target, True] for source, target in binds],
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(spec, file)
        unshare = require_tool("unshare", install="apt-get install util-linux")
        command = [unshare, "--mount", "--propagation", "private", sys.executable, str(LAUNCH)]
        return subprocess.Popen(
            [*command, str(self.rootfs), self.user, file.name],
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
        )

    def run(self, argv: Sequence[str], *, timeout: float = 60, **kwargs: Any) -> tuple[int, str]:
        """Run ``argv`` to completion in the image; its exit status and output."""
        with tempfile.TemporaryFile() as out:
            process = self.launch(argv, stdout=out, **kwargs)
            try:
                status = process.wait(timeout=timeout)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            out.seek(0)
            return status, out.read().decode(errors="replace")


@contextmanager
def opened(ref: str) -> Iterator[Image]:
    """A working container of ``ref`` (removed afterwards) and its mounted root filesystem."""
    described = inspect_image(ref)
    assert described is not None, f"{ref} was not built"
    container = buildah("from", "--pull=never", ref).stdout.strip()
    try:
        rootfs = Path(buildah("mount", container).stdout.strip())
        layers = [int(layer["size"]) for layer in json.loads(described["Manifest"])["layers"]]
        yield Image(ref, container, rootfs, described["Docker"]["config"], layers)
    finally:
        buildah("rm", container, check=False)
