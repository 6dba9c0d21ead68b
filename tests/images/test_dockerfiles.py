"""Static checks of the service and operator images.

No Docker engine runs here, so what a build would get wrong is checked from the files:
pinned bases, a non-root numeric user, no secrets, OCI labels, a build context that holds
every file the Dockerfile copies, and a locked install without the dev dependency group.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from images.build import BuildError, chosen_uv
from tests.images.dockerfile import Dockerfile, parse_dockerfile, substitute
from tests.images.dockerignore import DockerIgnore
from tests.images.health_server import health_server, write_self_signed
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGES = {"service": "gale_service", "operator": "gale_operator"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# A tag that names a release (3.11.14-slim-trixie, 0.13.9), not a moving pointer.
VERSION_TAG = re.compile(r":v?\d+\.\d+(\.\d+)[\w.\-]*$")
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|"
    r"mongodb(\+srv)?://[^/\s:]+:[^@\s]+@"
)
REQUIRED_OCI_LABELS = {
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.source",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
}


@pytest.fixture(scope="module", params=sorted(IMAGES))
def component(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def dockerfile(component: str) -> Dockerfile:
    return parse_dockerfile(ROOT / component / "Dockerfile")


def test_is_multi_stage_with_a_separate_runtime(dockerfile: Dockerfile) -> None:
    assert len(dockerfile.stages) >= 2
    assert dockerfile.final.name == "runtime"
    # The runtime stage takes only the built virtualenv from the build stage, never uv.
    copies_from = {each.flags().get("from") for each in dockerfile.final.all("COPY")}
    assert copies_from == {"build"}
    assert not any("uv " in each.arguments for each in dockerfile.final.all("RUN"))


def test_every_base_image_is_pinned(dockerfile: Dockerfile) -> None:
    stage_names = dockerfile.stage_names()
    for stage in dockerfile.stages:
        base = stage.base
        assert "$" not in base, f"FROM {base}: every build ARG it uses needs a default"
        if base in stage_names:
            continue
        assert not base.endswith(":latest"), f"FROM {base} uses the moving 'latest' tag"
        assert VERSION_TAG.search(base.split("@")[0]) or DIGEST.search(base), (
            f"FROM {base} is not pinned to a release tag or a sha256 digest"
        )


def test_build_and_runtime_share_one_python_base(dockerfile: Dockerfile) -> None:
    """The virtualenv links to the base's interpreter: a different base would break it."""
    by_name = {stage.name: stage for stage in dockerfile.stages}
    assert by_name["build"].base == dockerfile.final.base
    assert dockerfile.final.base.startswith("python:3.11")
    assert "slim" in dockerfile.final.base


def test_runtime_runs_as_a_numeric_non_root_user(dockerfile: Dockerfile) -> None:
    users = dockerfile.final.all("USER")
    assert users, "the runtime stage sets no USER, so it would run as root"
    user, _, group = users[-1].arguments.partition(":")
    # Numeric ids let Kubernetes verify runAsNonRoot without reading /etc/passwd.
    assert user.isdigit(), f"USER {users[-1].arguments}: use a numeric uid"
    assert int(user) > 0, "USER 0 is root"
    assert group.isdigit(), f"USER {users[-1].arguments}: use a numeric gid"
    assert int(group) > 0
    last_user_line = users[-1].line
    later = [each for each in dockerfile.final.instructions if each.line > last_user_line]
    assert all(each.keyword not in {"RUN", "COPY", "ADD"} for each in later), (
        "nothing after USER should write to the image"
    )


def test_works_on_a_read_only_root_filesystem(dockerfile: Dockerfile) -> None:
    build_env = next(s for s in dockerfile.stages if s.name == "build").all("ENV")
    assert any(e.key_values().get("UV_COMPILE_BYTECODE") == "1" for e in build_env)
    runtime_env: dict[str, str] = {}
    for each in dockerfile.final.all("ENV"):
        runtime_env.update(each.key_values())
    assert runtime_env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert runtime_env["TMPDIR"] == "/tmp"
    assert runtime_env["PATH"].startswith("/opt/gale/bin:")
    assert not dockerfile.final.all("VOLUME"), "writable paths come from the pod's emptyDir"


def test_has_oci_labels(dockerfile: Dockerfile, component: str) -> None:
    labels: dict[str, str] = {}
    for each in dockerfile.final.all("LABEL"):
        labels.update(each.key_values())
    assert labels.keys() >= REQUIRED_OCI_LABELS
    assert labels["org.opencontainers.image.title"] == f"gale-{component}"
    assert labels["org.opencontainers.image.version"] == "${VERSION}"


def test_holds_no_secrets(dockerfile: Dockerfile) -> None:
    names = set(dockerfile.global_args)
    for stage in dockerfile.stages:
        for each in stage.all("ENV") + stage.all("ARG"):
            names.update(each.key_values() or {each.arguments.split("=")[0]: ""})
    assert not [name for name in names if SECRET_NAME.search(name)]
    assert not SECRET_VALUE.search(dockerfile.text)
    for stage in dockerfile.stages:
        assert not stage.all("ADD"), "ADD can fetch URLs and unpack archives; use COPY"


def test_installs_the_locked_project_without_dev_dependencies(dockerfile: Dockerfile) -> None:
    syncs = [
        each for s in dockerfile.stages for each in s.all("RUN") if "uv sync" in each.arguments
    ]
    assert syncs
    for each in syncs:
        flags = set(each.arguments.split("uv sync", 1)[1].split())
        assert {"--locked", "--no-dev", "--no-editable"} <= flags, each.arguments


def test_runs_its_component_module(dockerfile: Dockerfile, component: str) -> None:
    entrypoint = dockerfile.final.all("ENTRYPOINT")[-1].exec_form()
    assert entrypoint == ["python", "-m", IMAGES[component]]
    assert (ROOT / component / IMAGES[component] / "__init__.py").is_file()


def test_service_declares_a_healthcheck_on_livez() -> None:
    dockerfile = parse_dockerfile(ROOT / "service" / "Dockerfile")
    (healthcheck,) = dockerfile.final.all("HEALTHCHECK")
    command = healthcheck.exec_form()
    assert command is not None
    assert command[:2] == ["python", "-c"]
    assert "/livez" in command[2]
    compile(command[2], "HEALTHCHECK", "exec")
    assert {"interval", "timeout", "retries"} <= healthcheck.flags().keys()
    exposed = {e.arguments for e in dockerfile.final.all("EXPOSE")}
    assert exposed == {"8888"}


def test_build_context_holds_every_copied_file(dockerfile: Dockerfile) -> None:
    """A COPY of a path the .dockerignore leaves out fails the build; catch it here."""
    ignore = DockerIgnore.load(ROOT / ".dockerignore")
    copies = [
        each for s in dockerfile.stages for each in s.all("COPY") if "from" not in each.flags()
    ]
    mounts = [
        source
        for s in dockerfile.stages
        for each in s.all("RUN")
        for source in re.findall(r"type=bind,source=([^,\s]+)", each.arguments)
    ]
    sources = mounts + [
        part
        for each in copies
        for part in substitute(each.arguments, dockerfile.global_args).split()[:-1]
        if not part.startswith("--")
    ]
    assert sources
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"{dockerfile.path.name} copies {source}, which does not exist"
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        excluded = [f for f in files if ignore.excludes(f.relative_to(ROOT).as_posix())]
        assert files
        assert not excluded, f"{source}: .dockerignore leaves {excluded} out of the build context"


def test_build_context_leaves_out_local_state() -> None:
    ignore = DockerIgnore.load(ROOT / ".dockerignore")
    for path in (
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        ".gale-data/secrets/x",
        "service/gale_service/__pycache__/app.cpython-311.pyc",
        ".env",
        "helm/gale/values.yaml",
    ):
        assert ignore.excludes(path), f"{path} would be sent to the Docker daemon"
    assert not ignore.excludes("service/gale_service/__init__.py")
    assert not ignore.excludes("uv.lock")


def test_locked_runtime_set_leaves_out_every_dependency_group() -> None:
    """Ask uv what `uv sync --no-dev` installs from the lock: no package of a dependency group
    (dev or bench) may be in it.

    It asks the uv the Makefile chose (``uv run`` passes its path down as ``UV``), never
    whatever ``uv`` is on PATH: a fresh machine has none there.
    """
    try:
        uv = chosen_uv()
    except BuildError as error:
        pytest.fail(str(error), pytrace=False)
    exported = subprocess.run(
        [
            uv,
            "export",
            "--locked",
            "--no-dev",
            "--no-editable",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--no-emit-project",
            "--format",
            "requirements.txt",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed = {
        re.split(r"[=<>; ]", line, maxsplit=1)[0].lower().replace("_", "-")
        for line in exported.splitlines()
        if line and not line.startswith("#")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # Every dependency group: dev (tests, SecantusDB, kmock) and bench (FastAPI, uvicorn).
    grouped = {
        re.split(r"[=<>\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
        for group in project["dependency-groups"].values()
        for spec in group
    }
    runtime = {
        re.split(r"[=<>\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
        for spec in project["project"]["dependencies"]
    }
    # Group packages that are also runtime dependencies (none today) would legitimately appear.
    assert not (grouped - runtime) & installed
    assert runtime <= installed


def test_chart_runs_the_operator_as_the_image_user_on_its_ports() -> None:
    """The chart's securityContext and ports must match what the image declares."""
    dockerfile = parse_dockerfile(ROOT / "operator" / "Dockerfile")
    uid, _, gid = dockerfile.final.all("USER")[-1].arguments.partition(":")
    values = yaml.safe_load((ROOT / "helm" / "gale" / "values.yaml").read_text())["operator"]
    for context in (values["podSecurityContext"], values["containerSecurityContext"]):
        assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    exposed = {int(port) for e in dockerfile.final.all("EXPOSE") for port in e.arguments.split()}
    assert exposed == set(values["ports"].values())


def _run_healthcheck(component: str, env: dict[str, str]) -> int:
    dockerfile = parse_dockerfile(ROOT / component / "Dockerfile")
    (healthcheck,) = dockerfile.final.all("HEALTHCHECK")
    command = healthcheck.exec_form()
    assert command is not None
    assert command[0] == "python"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GALE_")}
    result = subprocess.run(
        [sys.executable, *command[1:]], env=clean | env, capture_output=True, timeout=30
    )
    return result.returncode


@pytest.mark.parametrize(
    ("component", "path", "port_variable"),
    [("service", "/livez", "GALE_PORT"), ("operator", "/healthz", "GALE_OPERATOR_HEALTH_PORT")],
)
def test_healthcheck_passes_only_when_the_process_is_healthy(
    component: str, path: str, port_variable: str
) -> None:
    with health_server(path=path, status=200) as port:
        assert _run_healthcheck(component, {port_variable: str(port)}) == 0
    with health_server(path=path, status=503) as port:
        assert _run_healthcheck(component, {port_variable: str(port)}) != 0
    assert _run_healthcheck(component, {port_variable: str(free_port())}) != 0


def test_service_healthcheck_speaks_https_when_tls_is_configured(tmp_path: Path) -> None:
    cert_file, key_file = write_self_signed(tmp_path)
    tls_env = {"GALE_TLS_CERT_FILE": str(cert_file), "GALE_TLS_KEY_FILE": str(key_file)}
    with health_server(path="/livez", status=200, tls=(cert_file, key_file)) as port:
        assert _run_healthcheck("service", {"GALE_PORT": str(port)} | tls_env) == 0
        # Plain HTTP against the TLS port fails: the check must follow the configuration.
        assert _run_healthcheck("service", {"GALE_PORT": str(port)}) != 0
