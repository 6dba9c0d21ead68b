"""What is, and is not, in both built images: read from their root filesystems and run in them.

Size budget: 300 MB per image (uncompressed layers, as a registry stores them before
compression), of which at most 160 MB for the virtualenv. Measured at 256 MB: a 128 MB
Debian minbase + Python 3.11 base (python:3.11-slim is about the same) and a 128 MB
virtualenv (kubernetes_asyncio alone is 48 MB, cryptography 16 MB). The headroom (~15%)
allows ordinary dependency growth; the dev group (SecantusDB, playwright, schemathesis...),
a compiler toolchain or uv plus its cache would each push an image past it.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from tests.images.containers import Image, buildah

pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[2]
BUDGET = 300_000_000
VENV_BUDGET = 160_000_000
SITE_PACKAGES = Path("opt/gale/lib/python3.11/site-packages")
COMPILER = re.compile(
    r"^(?:[\w-]+-)?(?:cc|c\+\+|gcc|g\+\+|clang|clang\+\+|tcc|cpp|as|ld)(?:-\d+)?$"
)
HISTORY = {".bash_history", ".python_history", ".sh_history", ".zsh_history", ".lesshst"}
HISTORY |= {".viminfo", ".wget-hsts", ".psql_history", ".sqlite_history"}
#: Environment a build host may carry that must never reach an image's configuration.
HOST_VARIABLES = re.compile(r"(?i)proxy|^(?:SSL_|REQUESTS_CA|CURL_CA|PIP_|UV_|VIRTUAL_ENV)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(specs: list[str]) -> set[str]:
    return {normalise(re.split(r"[=<>\[; ~!]", spec, maxsplit=1)[0]) for spec in specs}


def files(image: Image) -> list[Path]:
    return [Path(top) / name for top, _, names in os.walk(image.rootfs) for name in names]


def installed(image: Image) -> set[str]:
    site = image.rootfs / SITE_PACKAGES
    return {normalise(path.name.split("-")[0]) for path in site.glob("*.dist-info")}


def test_no_dependency_group_package_and_every_runtime_one(image: Image) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = requirement_names(project["project"]["dependencies"])
    groups = project["dependency-groups"].values()  # dev and bench
    grouped = requirement_names([spec for group in groups for spec in group]) - runtime
    present = installed(image)
    assert runtime | {"gale"} <= present
    assert not grouped & present


def test_no_uv_compiler_history_or_cache(image: Image) -> None:
    every = files(image)
    names = {path.name for path in every}
    assert not {"uv", "uvx"} & names
    assert "uv" not in installed(image)
    assert not [path for path in every if COMPILER.match(path.name) and os.access(path, os.X_OK)]
    assert not HISTORY & names
    relative = [path.relative_to(image.rootfs) for path in every]
    caches = [p for p in relative if ".cache" in p.parts or p.parts[:2] == ("root", "uv-cache")]
    assert not caches
    for emptied in ("var/cache/apt", "var/lib/apt/lists", "tmp", "var/tmp", "root/.config"):
        assert not [p for p in relative if p.is_relative_to(emptied)], emptied
    assert sorted(p.name for p in (image.rootfs / "root").iterdir()) == [".bashrc", ".profile"]


def test_nothing_of_the_build_host(image: Image) -> None:
    # Runtimes mount their own over these three; the build leaves only empty mount points.
    for name in ("resolv.conf", "hostname", "hosts"):
        path = image.rootfs / "etc" / name
        assert not path.exists() or path.stat().st_size == 0, path
    assert not HOST_VARIABLES.search("\n".join(image.env))
    labels = image.config.get("Labels") or {}
    assert not [k for k in labels if not k.startswith(("org.opencontainers.", "io.buildah."))]
    bundle = (image.rootfs / "etc/ssl/certs/ca-certificates.crt").read_text()
    host_authorities = sorted(Path("/usr/local/share/ca-certificates").rglob("*.crt"))
    for authority in host_authorities:
        body = "".join(authority.read_text().split("-----")[2].split())
        assert body[:64] not in "".join(bundle.split()), f"{authority} is in the image"
    assert not (image.rootfs / "etc/uv").exists()
    assert not (image.rootfs / "etc/pip.conf").exists()


def test_size_within_budget(image: Image) -> None:
    venv = image.layers[-1]
    print(f"{image.ref}: {image.size / 1e6:.0f} MB ({venv / 1e6:.0f} MB virtualenv layer)")
    assert image.size <= BUDGET, f"{image.ref} is {image.size / 1e6:.0f} MB"
    assert venv <= VENV_BUDGET, f"{image.ref}'s virtualenv layer is {venv / 1e6:.0f} MB"


WRITE_PROBE = """
import errno, os, sys
for path in sys.argv[1:]:
    try:
        with open(path, "a"):
            pass
    except OSError as error:
        print(path, errno.errorcode[error.errno])
    else:
        print(path, "WRITABLE")
        os.unlink(path)
"""
CODE_AND_ROOT = ("/opt/gale/probe", f"/{SITE_PACKAGES}/probe.py", "/probe", "/etc/probe")


def written(output: str) -> dict[str, str]:
    return dict(line.split() for line in output.strip().splitlines())


def test_read_only_root_refuses_every_write_but_tmp(image: Image) -> None:
    status, output = image.run(["python", "-c", WRITE_PROBE, *CODE_AND_ROOT, "/tmp/probe"])
    assert status == 0, output
    assert written(output) == dict.fromkeys(CODE_AND_ROOT, "EROFS") | {"/tmp/probe": "WRITABLE"}


def test_image_user_cannot_write_its_code_even_on_a_writable_root(image: Image) -> None:
    """buildah's own ``run`` leaves the root writable: ownership alone must keep code safe."""
    run = buildah(
        "run", "--isolation", "chroot", "--user", image.user, image.container, "--",
        "python", "-c", WRITE_PROBE, *CODE_AND_ROOT,
    )  # fmt: skip
    assert written(run.stdout) == dict.fromkeys(CODE_AND_ROOT, "EACCES"), run.stdout + run.stderr
