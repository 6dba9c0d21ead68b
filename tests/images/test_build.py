"""``make images`` itself: which builder it picks, and what makes it build again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from images import build
from images.build import Bases, BuildError, build_key, context_files, ensure_images

ROOT = Path(__file__).resolve().parents[2]
BASES = Bases("localhost/none-python:x", "localhost/none-uv:x", ROOT / "uv.lock")
ARGS = {"VERSION": "0.1.0", "REVISION": "abc"}


def fake_engine(directory: Path, name: str, *, answers: bool) -> None:
    """A ``docker``/``podman`` whose ``info`` succeeds only when its engine "answers"."""
    script = directory / name
    script.write_text(f'#!/bin/sh\n[ "$1" = info ] && exit {0 if answers else 1}\nexit 0\n')
    script.chmod(0o755)


@pytest.mark.parametrize(("docker", "podman", "chosen"), [
    (True, True, "docker"),
    (False, True, "podman"),
    (False, False, "buildah"),
])  # fmt: skip
def test_an_engine_is_used_only_when_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker: bool, podman: bool, chosen: str
) -> None:
    """A docker client with no daemon behind it (as here) must not be taken for an engine."""
    fake_engine(tmp_path, "docker", answers=docker)
    fake_engine(tmp_path, "podman", answers=podman)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("GALE_IMAGE_BUILDER", raising=False)
    assert build.engine() == chosen


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A copy of what a build reads: the Dockerfiles, .dockerignore and the context."""
    for path in [*context_files(ROOT), ROOT / ".dockerignore"] + [
        ROOT / component / "Dockerfile" for component in build.COMPONENTS
    ]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return tmp_path


def test_build_key_follows_what_enters_the_image_and_nothing_else(context: Path) -> None:
    key = build_key("service", BASES, ARGS, root=context)
    # Local state the .dockerignore keeps out changes nothing.
    (context / "tests").mkdir()
    (context / "tests" / "test_x.py").write_text("x = 1\n")
    cache = context / "service" / "gale_service" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "app.cpython-311.pyc").write_bytes(b"\0")
    assert build_key("service", BASES, ARGS, root=context) == key
    # Code, the lock, the Dockerfile and a build argument each make a new build.
    changed = set()
    app = context / "service" / "gale_service" / "app.py"
    app.write_text(app.read_text() + "\n")
    changed.add(build_key("service", BASES, ARGS, root=context))
    lock = context / "uv.lock"
    lock.write_text(lock.read_text() + "\n")
    changed.add(build_key("service", BASES, ARGS, root=context))
    dockerfile = context / "service" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\n")
    changed.add(build_key("service", BASES, ARGS, root=context))
    changed.add(build_key("service", BASES, ARGS | {"REVISION": "def"}, root=context))
    assert len(changed | {key}) == 5


@pytest.mark.timeout(600)
def test_an_unchanged_rebuild_is_a_lookup(images: dict[str, str]) -> None:
    again = ensure_images()
    assert {component: each.keyed for component, each in again.items()} == images
    assert all(each.cached for each in again.values()), again


def test_without_buildah_it_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError, match=r"buildah is not installed; install it with `make tools`"):
        ensure_images()
