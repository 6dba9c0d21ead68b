"""Build the service and operator images from their unchanged Dockerfiles.

Where a Docker or Podman engine answers, the images build the usual way, on the public bases
the Dockerfiles name. Where none does (CI here: no daemon, no registry), Debian's buildah
builds them as root with no daemon (``--storage-driver vfs``, ``--isolation chroot``) on two
local bases, made once and kept under ``.image-cache/``, keyed by what went into them:

* the Python base: a ``debootstrap --variant=minbase`` Debian root filesystem with python3,
  python3-venv and ca-certificates (the interpreter the image's virtualenv links to);
* the uv base: ``/uv`` from the uv wheel on PyPI, at the version the Dockerfiles name.

uv inside the build runs offline from a uv cache that the host's uv fills first (so PyPI is
reached exactly as the host reaches it). That cache and a two-line uv configuration are
bind-mounted over ``/root`` for the RUN steps only: no proxy setting, certificate or cache
of the build host is committed to an image. An image whose inputs (Dockerfile, build
context, bases, build arguments) are unchanged since its last build is not built again.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".image-cache"
COMPONENTS = ("service", "operator")
TAG = "dev"
#: Bump when the way a base's root filesystem is made changes: debootstrap runs again.
BASE_RECIPE = 1
#: Bump when the way a base image is committed changes: it is committed again.
IMAGE_RECIPE = 2
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates")
DEBIAN_MIRROR = os.environ.get("GALE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
#: What a minbase root filesystem carries that an image does not need, or that comes from
#: the build host (its resolver and host name): removed before the base is committed.
ROOTFS_LEFTOVERS = (
    "etc/resolv.conf",
    "etc/hostname",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
#: The Dockerfiles' RUN steps see this as /root: uv's configuration and its cache.
BUILD_HOME = CACHE / "build-home"
UV_BUILD_CONFIG = """\
# The image build's uv: offline, from the cache images/build.py fills with the host's uv.
offline = true
cache-dir = "/root/uv-cache"
"""
#: A second tag on the Python base, ``content-<sha256 of its tarball>``: what it was made
#: from, kept in storage (a label would be inherited by the images built on it).
CONTENT_TAG = "content-"
INSTALL_HINT = "`make tools` (on Debian: apt-get install buildah debootstrap)"
#: Keyed builds kept per image: this one and the newest others (other clones, branches).
KEPT_BUILDS = 3


class BuildError(Exception):
    """A build that cannot go on; the message says why and what to do."""


def image_ref(component: str) -> str:
    return f"localhost/gale-{component}:{TAG}"


def chosen_uv() -> str:
    """The uv the Makefile chose: ``uv run`` exports its own path as ``UV`` to its children;
    outside it, the one ``make sync`` installs under ``.tools/``."""
    for candidate in (os.environ.get("UV"), str(ROOT / ".tools" / "bin" / "uv")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BuildError("uv not found: run `make sync` (it installs uv into .tools/)")


def _run(command: Sequence[str], *, check: bool = True, **kwargs: Any) -> str:
    """Run a tool, its output captured; a failure is a :class:`BuildError` that shows it."""
    try:
        result: subprocess.CompletedProcess[str] = subprocess.run(  # noqa: S603 - no shell
            list(command), capture_output=True, text=True, check=False, **kwargs
        )
    except FileNotFoundError as error:
        raise BuildError(
            f"{command[0]} is not installed; install it with {INSTALL_HINT}"
        ) from error
    if result.returncode != 0 and check:
        raise BuildError(
            f"{' '.join(command[:3])} ... failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
    return result.stdout


@contextmanager
def _step(what: str) -> Iterator[None]:
    """Say what a slow step is doing, then how long it took."""
    print(f"{what} ...", flush=True)
    started = time.monotonic()
    yield
    print(f"{what}: {time.monotonic() - started:.1f} s", flush=True)


def _buildah(*args: str, **kwargs: Any) -> str:
    return _run(["buildah", "--storage-driver", "vfs", *args], **kwargs)


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def inspect_image(ref: str) -> dict[str, Any] | None:
    """buildah's description of a local image (config, manifest), or None if there is none."""
    try:
        found: dict[str, Any] = json.loads(_buildah("inspect", "--type", "image", ref))
    except BuildError:
        return None
    return found


def image_id(ref: str) -> str | None:
    found = inspect_image(ref)
    return None if found is None else str(found["FromImageID"])


def image_size(ref: str) -> int:
    """The image's size in bytes: its layers, uncompressed, as a registry would store them."""
    found = inspect_image(ref)
    assert found is not None
    return sum(int(layer["size"]) for layer in json.loads(found["Manifest"])["layers"])


def _dockerfile_pin(name: str) -> str:
    """A base image's version as both Dockerfiles pin it (``ARG UV_IMAGE=...:0.13.9``)."""
    pins = {
        re.search(rf"^ARG {name}=(\S+)$", (ROOT / c / "Dockerfile").read_text(), re.M)
        for c in COMPONENTS
    }
    values = {match.group(1) for match in pins if match is not None}
    if len(values) != 1:
        raise BuildError(f"the Dockerfiles disagree on (or lack) a default for {name}: {values}")
    return values.pop()


@dataclass(frozen=True)
class Bases:
    """The two local bases, by name, and the tarball the uv base is committed from."""

    python: str
    uv: str
    uv_tarball: Path

    def contents(self) -> dict[str, str | None]:
        """What the bases were made from: the build key's view of them."""
        with self.uv_tarball.open("rb") as file:
            uv = hashlib.file_digest(file, "sha256").hexdigest()
        return {"python": base_content(self.python), "uv": uv}


def _debian_arch() -> str:
    return _run(["dpkg", "--print-architecture"]).strip()


def python_base() -> str:
    """The local Python base image, made from a cached root filesystem tarball if needed."""
    key = _digest(
        {
            "recipe": BASE_RECIPE,
            "suite": DEBIAN_SUITE,
            "variant": "minbase",
            "packages": DEBIAN_PACKAGES,
            "mirror": DEBIAN_MIRROR,
            "arch": _debian_arch(),
            "leftovers": ROOTFS_LEFTOVERS,
        }
    )[:16]
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    env |= {"LANG": "C.UTF-8"}
    cmd = ["python3"]
    # The image's name also follows how it is committed; its tarball only the root fs.
    image_key = _digest({"rootfs": key, "env": env, "cmd": cmd, "recipe": IMAGE_RECIPE})[:16]
    ref = f"localhost/gale-base-python:{DEBIAN_SUITE}-{image_key}"
    if image_id(ref):
        return ref
    tarball = CACHE / "bases" / f"python-{DEBIAN_SUITE}-{key}.tar"
    if not tarball.exists():
        _debootstrap(tarball)
    with _step(f"committing {ref}"):
        _commit_from_tarball(tarball, ref, env=env, cmd=cmd)
    return ref


def _debootstrap(tarball: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise BuildError(f"debootstrap is not installed; install it with {INSTALL_HINT}")
    rootfs = tarball.with_suffix(".rootfs")
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    command = ["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}"]
    with _step(f"debootstrap {DEBIAN_SUITE} for the Python base (once)"):
        _run([*command, DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR])
    for leftover in ROOTFS_LEFTOVERS:
        path = rootfs / leftover
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        elif path.exists() or path.is_symlink():
            path.unlink()
    partial = tarball.with_suffix(".partial")
    _run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(partial), "."])
    partial.rename(tarball)
    shutil.rmtree(rootfs)


def _commit_from_tarball(tarball: Path, ref: str, *, env: dict[str, str], cmd: list[str]) -> None:
    container = _buildah("from", "scratch").strip()
    try:
        mountpoint = _buildah("mount", container).strip()
        _run(["tar", "--numeric-owner", "--xattrs", "-C", mountpoint, "-xf", str(tarball)])
        settings = [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]
        _buildah("config", *settings, "--cmd", json.dumps(cmd), container)
        _buildah("commit", "--quiet", "--format", "docker", container, ref)
        with tarball.open("rb") as file:
            content = hashlib.file_digest(file, "sha256").hexdigest()
        _buildah("tag", ref, f"{ref.rsplit(':', 1)[0]}:{CONTENT_TAG}{content}")
    finally:
        _buildah("rm", container)


def uv_base() -> tuple[str, Path]:
    """A local stand-in for the uv image the Dockerfiles name (``/uv`` from the PyPI wheel):
    its name, and the cached tarball it is made from (see :func:`commit_uv_base`)."""
    version = _dockerfile_pin("UV_IMAGE").rsplit(":", 1)[1]
    key = _digest({"recipe": BASE_RECIPE, "uv": version, "arch": _debian_arch()})[:16]
    tarball = CACHE / "bases" / f"uv-{version}-{key}.tar"
    if not tarball.exists():
        staging = tarball.with_suffix(".wheel")
        shutil.rmtree(staging, ignore_errors=True)
        install = [chosen_uv(), "pip", "install", "--quiet", "--no-deps"]
        _run([*install, "--python", sys.executable, "--target", str(staging), f"uv=={version}"])
        partial = tarball.with_suffix(".partial")
        # Reproducible: the same wheel makes the same tarball, so the same build key.
        reproducible = ["--mtime=@0", "--owner=0", "--group=0", "--numeric-owner"]
        _run(["tar", *reproducible, "-C", str(staging / "bin"), "-cf", str(partial), "uv"])
        partial.rename(tarball)
        shutil.rmtree(staging)
    return f"localhost/gale-base-uv:{version}-{key}", tarball


def commit_uv_base(bases: Bases) -> None:
    """Commit the uv base just before a build needs it: buildah (without ``--layers``)
    removes the image of a stage with no instructions, which ``FROM ${UV_IMAGE} AS uv`` is."""
    if image_id(bases.uv) is None:
        _commit_from_tarball(bases.uv_tarball, bases.uv, env={}, cmd=["/uv"])


def _prefill_uv_cache() -> None:
    """Let the host's uv download what the image's ``uv sync`` needs, into the build cache."""
    (BUILD_HOME / ".config" / "uv").mkdir(parents=True, exist_ok=True)
    (BUILD_HOME / ".config" / "uv" / "uv.toml").write_text(UV_BUILD_CONFIG)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env |= {
        "UV_CACHE_DIR": str(BUILD_HOME / "uv-cache"),
        "UV_PROJECT_ENVIRONMENT": str(CACHE / "prefill-venv"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    sync = [chosen_uv(), "sync", "--locked", "--no-dev", "--no-editable", "--quiet"]
    with _step("filling the build's uv cache with the host's uv"):
        _run(sync, cwd=ROOT, env=env)


def context_files(root: Path = ROOT) -> list[Path]:
    """What the build context holds: the paths ``.dockerignore``'s allow-list lets in."""
    rules = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if rules[0] != "*":
        raise BuildError(".dockerignore must start with `*` (an allow-list) for the build key")
    files: list[Path] = []
    for rule in rules[1:]:
        if not rule.startswith("!"):
            continue
        path = root / rule[1:].strip("/")
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        files += [
            each
            for each in candidates
            if each.is_file()
            and "__pycache__" not in each.parts
            and each.suffix not in {".pyc", ".pyo", ".pyd"}
        ]
    return files


def _revision(paths: list[str]) -> str:
    """The last commit that changed what goes into the image (``-dirty`` if edited since)."""
    try:
        last = _run(["git", "log", "-1", "--format=%H", "--", *paths], cwd=ROOT).strip()
        dirty = _run(["git", "status", "--porcelain", "--", *paths], cwd=ROOT).strip()
    except BuildError:
        return "unknown"
    return (last or "unknown") + ("-dirty" if dirty else "")


def _project_version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


@dataclass(frozen=True)
class Built:
    ref: str
    #: The build's own name (``:build-<key>``): unlike ``:dev``, no other clone moves it.
    keyed: str
    id: str
    size: int
    seconds: float
    cached: bool


def build_key(component: str, bases: Bases, args: dict[str, str], root: Path = ROOT) -> str:
    """What an image is built from: its Dockerfile, the context's files, bases, arguments."""
    files = {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in context_files(root)
    }
    dockerfile = (root / component / "Dockerfile").read_text()
    contents = bases.contents()
    return _digest({"dockerfile": dockerfile, "context": files, "bases": contents, "args": args})


def base_content(ref: str) -> str | None:
    """What a base was made from (its tarball's digest): a base made again from the same
    tarball is the same base, even with a new image ID."""
    try:
        listed: list[dict[str, Any]] = json.loads(_buildah("images", "--json", ref) or "[]")
    except BuildError:
        return None
    marker = f"{ref.rsplit(':', 1)[0]}:{CONTENT_TAG}"
    names = [name for image in listed for name in image.get("names") or []]
    return next((name.removeprefix(marker) for name in names if name.startswith(marker)), None)


def build_one(component: str, bases: Bases) -> Built:
    """Build one image with buildah unless its inputs are those of the image already there."""
    ref = image_ref(component)
    dockerfile = f"{component}/Dockerfile"
    context = [str(p.relative_to(ROOT)) for p in context_files()]
    args = {
        "PYTHON_IMAGE": bases.python,
        "UV_IMAGE": bases.uv,
        "VERSION": _project_version(),
        "REVISION": _revision([dockerfile, *context]),
    }
    key = build_key(component, bases, args)
    # The key is a tag of its own, so any clone on this machine finds an unchanged build.
    keyed = f"{ref.rsplit(':', 1)[0]}:build-{key[:24]}"
    started = time.monotonic()
    if image_id(keyed) is None:
        _prefill_uv_cache()
        commit_uv_base(bases)
        build_args = [a for name, value in args.items() for a in ("--build-arg", f"{name}={value}")]
        with _step(f"building {ref} with buildah"):
            _buildah(
                "build",
                "--isolation",
                "chroot",
                "--layers=false",
                "--format",
                "docker",
                "--pull=never",
                "--force-rm",
                "--file",
                dockerfile,
                "--tag",
                keyed,
                *build_args,
                "--volume",
                f"{BUILD_HOME}:/root",
                str(ROOT),
                cwd=ROOT,
            )
        cached = False
    else:
        cached = True
    _buildah("tag", keyed, ref)
    _forget_other_builds(ref, keep=keyed)
    built = image_id(ref)
    assert built is not None
    return Built(ref, keyed, built, image_size(ref), time.monotonic() - started, cached)


def _forget_other_builds(ref: str, *, keep: str) -> None:
    """Remove all but the newest few keyed builds of this image, so old ones do not pile up
    (each costs ~400 MB under vfs) while other clones on the machine keep theirs."""
    repository = ref.rsplit(":", 1)[0]
    listed: list[dict[str, Any]] = json.loads(_buildah("images", "--json") or "[]")
    builds = sorted(
        (
            (int(image.get("created") or 0), name)
            for image in listed
            for name in image.get("names") or []
            if name.startswith(f"{repository}:build-") and name != keep
        ),
        reverse=True,
    )
    for _, name in builds[KEPT_BUILDS - 1 :]:
        _buildah("rmi", name, check=False)  # refused while a container uses it: fine


def _answers(tool: str) -> bool:
    try:
        _run([tool, "info"], timeout=30)
    except (BuildError, subprocess.TimeoutExpired):
        return False
    return True


def engine() -> str:
    """docker or podman when one answers (it pulls the public bases), else buildah."""
    chosen = os.environ.get("GALE_IMAGE_BUILDER")
    if chosen:
        return chosen
    for candidate in ("docker", "podman"):
        if shutil.which(candidate) and _answers(candidate):
            return candidate
    return "buildah"


def _build_with_engine(tool: str) -> None:
    """``docker build`` / ``podman build`` on the public bases; ``PYTHON_IMAGE`` and
    ``UV_IMAGE`` from the environment replace them (a mirror, a ``@sha256:`` pin)."""
    pins = {name: os.environ[name] for name in ("PYTHON_IMAGE", "UV_IMAGE") if name in os.environ}
    for component in COMPONENTS:
        dockerfile = f"{component}/Dockerfile"
        context = [str(p.relative_to(ROOT)) for p in context_files()]
        args = pins | {"VERSION": _project_version(), "REVISION": _revision([dockerfile, *context])}
        build_args = [a for name, value in args.items() for a in ("--build-arg", f"{name}={value}")]
        print(f"building {image_ref(component)} with {tool}", flush=True)
        command = [tool, "build", "--file", dockerfile, "--tag", image_ref(component), *build_args]
        if subprocess.run([*command, "."], cwd=ROOT, check=False).returncode != 0:  # noqa: S603
            raise BuildError(f"{tool} build of {dockerfile} failed (its output is above)")


@contextmanager
def _locked() -> Iterator[None]:
    """One build at a time (``make images`` and a test run may overlap)."""
    CACHE.mkdir(exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_images() -> dict[str, Built]:
    """Both images with buildah, built only where their inputs changed."""
    if shutil.which("buildah") is None:
        raise BuildError(f"buildah is not installed; install it with {INSTALL_HINT}")
    with _locked():
        bases = Bases(python_base(), *uv_base())
        built = {component: build_one(component, bases) for component in COMPONENTS}
        if not all(each.cached for each in built.values()):
            # vfs stores every layer as a full copy: drop what no tagged image uses (earlier
            # builds, intermediate layers). A later change then rebuilds from the bases.
            _buildah("rmi", "--prune", check=False)
        return built


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m images", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--builder",
        choices=("docker", "podman", "buildah"),
        help="default: docker or podman when its engine answers, else buildah",
    )
    options = parser.parse_args(argv)
    tool = options.builder or engine()
    try:
        if tool != "buildah":
            _build_with_engine(tool)
            return
        for built in ensure_images().values():
            state = "unchanged" if built.cached else "built"
            print(
                f"{built.ref}  {built.id[:12]}  {built.size / 1e6:.0f} MB  "
                f"{state} in {built.seconds:.1f} s"
            )
    except BuildError as error:
        sys.exit(f"make images: {error}")
