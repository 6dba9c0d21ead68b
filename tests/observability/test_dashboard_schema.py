"""Dashboards type-check against Grafana's published schema (npm @grafana/schema, tsc --strict)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.observability import assets
from tests.observability.dashboard_typecheck import pinned_schema_version, typecheck

DASHBOARDS = {path.stem: assets.load_dashboard(path) for path in assets.dashboard_paths()}


def _first_panel(dashboard: assets.JSON, kind: str) -> assets.JSON:
    return next(panel for panel in assets.query_panels(dashboard) if panel["type"] == kind)


def _misspelled_enum(dashboard: assets.JSON) -> None:
    _first_panel(dashboard, "timeseries")["fieldConfig"]["defaults"]["thresholds"]["mode"] = (
        "absolut"
    )


def _retired_panel_plugin(dashboard: assets.JSON) -> None:
    _first_panel(dashboard, "timeseries")["type"] = "graph"


def _missing_required_option(dashboard: assets.JSON) -> None:
    del _first_panel(dashboard, "stat")["options"]["reduceOptions"]


def _unknown_dashboard_field(dashboard: assets.JSON) -> None:
    dashboard["schemaVersoin"] = dashboard["schemaVersion"]


def _hard_coded_datasource(dashboard: assets.JSON) -> None:
    _first_panel(dashboard, "heatmap")["targets"][0]["datasource"] = {
        "type": "prometheus",
        "uid": "P1",
    }


BREAKAGES: dict[str, tuple[Callable[[assets.JSON], None], str]] = {
    "broken-enum": (_misspelled_enum, "'\"absolut\"' is not assignable"),
    "broken-plugin": (_retired_panel_plugin, "'\"graph\"' does not satisfy the constraint"),
    "broken-missing-option": (_missing_required_option, "Property 'reduceOptions' is missing"),
    "broken-unknown-field": (_unknown_dashboard_field, "'\"schemaVersoin\"' does not exist"),
    "broken-datasource": (_hard_coded_datasource, "'\"P1\"' is not assignable"),
}
"""Mistakes the type check must catch, each with the compiler error it gives."""


@pytest.fixture(scope="module")
def compiler_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One tsc run over the shipped dashboards and deliberately broken copies of one."""
    compiled = dict(DASHBOARDS)
    for name, (breakage, _) in BREAKAGES.items():
        broken = copy.deepcopy(DASHBOARDS["gale-service"])
        breakage(broken)
        compiled[name] = broken
    return typecheck(compiled, workdir=tmp_path_factory.mktemp("dashboards-ts"))


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_matches_grafana_schema(name: str, compiler_errors: dict[str, list[str]]) -> None:
    unexpected = {key: errs for key, errs in compiler_errors.items() if key not in BREAKAGES}
    assert not unexpected.get(name), "\n".join(unexpected[name])
    others = {key: errs for key, errs in unexpected.items() if key not in DASHBOARDS}
    assert not others, json.dumps(others, indent=2)


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_schema_check_rejects_broken_dashboard(
    breakage: str, compiler_errors: dict[str, list[str]]
) -> None:
    """The check above can fail: each kind of mistake is a compile error."""
    expected = BREAKAGES[breakage][1]
    errors = compiler_errors.get(breakage, [])
    assert errors
    assert all(expected in error for error in errors), errors


@pytest.mark.parametrize("path", assets.dashboard_paths(), ids=lambda path: path.name)
def test_schema_version_is_the_pinned_schemas(path: Path) -> None:
    """The version @grafana/schema describes, so Grafana loads it without migrating it."""
    assert assets.load_dashboard(path)["schemaVersion"] == pinned_schema_version()


def test_installed_packages_are_the_pinned_ones() -> None:
    """`make tools` installs only when node_modules is missing; a bumped pin needs a reinstall."""
    pins = json.loads((assets.TYPECHECK_DIR / "package.json").read_text(encoding="utf-8"))
    modules = assets.TYPECHECK_DIR / "node_modules"
    for package, version in pins["devDependencies"].items():
        manifest = modules / package / "package.json"
        installed = (
            json.loads(manifest.read_text(encoding="utf-8"))["version"]
            if manifest.exists()
            else None
        )
        assert installed == version, (
            f"{package} {installed or 'missing'} installed, {version} pinned: "
            f"rm -rf {modules.relative_to(assets.REPO)} && make tools"
        )
