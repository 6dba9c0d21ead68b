"""The import contracts in pyproject.toml bite: each forbidden import, added to a copy of the
service, breaks ``lint-imports`` (the driver in a handler, tornado in the store, the settings
in the driver, and either of the two cycles that once existed, settings ⇄ auth and logs ⇄
telemetry); and every package of the service is placed in a layer, so a new one cannot slip
past the layering unnoticed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[3]
PACKAGE = ROOT / "service" / "gale_service"


def service_contracts() -> list[dict[str, Any]]:
    """The contracts of pyproject.toml that are about the service alone."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return [c for c in config["contracts"] if "gale_operator" not in json.dumps(c)]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # strings and lists of strings: JSON's syntax is TOML's


def lint_imports(tmp_path: Path, *, append: tuple[str, str] | None = None) -> str:
    """``lint-imports`` over a copy of the service (with ``append = (module path, line)``
    added at the end of that module); the output when it fails, ``""`` when it passes."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "gale_service", ignore=shutil.ignore_patterns("__pycache__"))
    if append is not None:
        module, line = append
        with (copy / "gale_service" / module).open("a") as source:
            source.write(f"\n{line}\n")
    lines = ["[tool.importlinter]", 'root_packages = ["gale_service"]']
    lines.append("include_external_packages = true")
    for contract in service_contracts():
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in contract.items()]
    config = tmp_path / "contracts.toml"
    config.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("lint-imports")),
            "--config",
            str(config),
            "--no-cache",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def test_the_unchanged_service_keeps_every_contract(tmp_path: Path) -> None:
    assert lint_imports(tmp_path) == ""


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("handlers/documents.py", "import pymongo", "MongoDB drivers"),
        ("handlers/base.py", "from bson import ObjectId", "MongoDB drivers"),
        ("live/hub.py", "import motor", "MongoDB drivers"),
        ("store/documents.py", "import tornado.web", "know no HTTP"),
        ("db/driver.py", "import gale_service.settings", "Service layers"),
        ("auth/authenticator.py", "from gale_service.settings import Settings", "Service layers"),
        ("logs.py", "from gale_service.telemetry import metrics", "Service layers"),
        ("telemetry/tracing.py", "import gale_service.handlers", "Service layers"),
        ("store/events.py", "from gale_service import problems", "Service layers"),
    ],
)
def test_a_forbidden_import_breaks_lint_imports(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    output = lint_imports(tmp_path, append=(module, line))
    assert output, f"{line!r} in {module} passed every contract"
    assert broken in output.replace("\n", " "), output


def test_every_package_and_module_of_the_service_is_in_a_layer() -> None:
    (layers,) = [c for c in service_contracts() if c["name"].startswith("Service layers")]
    placed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    present = {
        f"gale_service.{path.stem if path.is_file() else path.name}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert present - placed == set(), "place these in the layers contract"
    assert placed - present == set(), "the layers contract names what no longer exists"
