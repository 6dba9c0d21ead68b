"""Where the shipped observability assets live, and loading them as data.

Tests and the metric-name comparison in other test packages read the assets only through
here, so a moved file breaks one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

JSON = dict[str, Any]

REPO = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO / "observability"
DASHBOARDS_DIR = OBSERVABILITY / "grafana" / "dashboards"
TYPECHECK_DIR = OBSERVABILITY / "grafana" / "typecheck"
RULES_FILE = OBSERVABILITY / "prometheus" / "rules.yaml"
RULE_TESTS_DIR = OBSERVABILITY / "prometheus" / "tests"
COLLECTOR_CONFIG = OBSERVABILITY / "otel-collector" / "config.yaml"
RUNBOOKS = OBSERVABILITY / "runbooks.md"

PROMETHEUS_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
"""How every panel and query names its data source: the dashboard's `datasource` variable."""


def dashboard_paths() -> list[Path]:
    """Every shipped dashboard file, sorted so test ids are stable."""
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(path: Path) -> JSON:
    dashboard: JSON = json.loads(path.read_text(encoding="utf-8"))
    return dashboard


def panels(dashboard: JSON) -> Iterator[JSON]:
    """Every panel, including rows and the panels a collapsed row keeps inside itself."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def query_panels(dashboard: JSON) -> Iterator[JSON]:
    """The panels that query data: everything but rows."""
    return (panel for panel in panels(dashboard) if panel.get("type") != "row")


def template_variables(dashboard: JSON) -> list[JSON]:
    variables: list[JSON] = dashboard.get("templating", {}).get("list", [])
    return variables


def rule_groups() -> list[JSON]:
    groups: list[JSON] = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    return groups


def rules() -> list[JSON]:
    """Every recording and alerting rule, across groups."""
    return [rule for group in rule_groups() for rule in group["rules"]]


def alerting_rules() -> list[JSON]:
    return [rule for rule in rules() if "alert" in rule]


def rule_test_files() -> list[Path]:
    return sorted(RULE_TESTS_DIR.glob("*.yaml"))
