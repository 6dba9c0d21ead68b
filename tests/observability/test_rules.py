"""Prometheus rules: valid for Prometheus, behaving as their promtool unit tests specify,
and every alert actionable (severity, summary, description, a runbook that exists)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.observability import assets
from tests.observability.promtool import promtool

SEVERITIES = {"critical", "warning"}
"""critical pages someone now; warning opens a ticket for working hours."""

RUNBOOK_BASE = "https://github.com/gale-dev/gale/blob/main/observability/runbooks.md#"


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", assets.RULES_FILE)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", assets.rule_test_files(), ids=lambda path: path.name)
def test_rules_pass_their_unit_tests(path: Path) -> None:
    result = promtool("test", "rules", path.name, cwd=path.parent)
    assert result.returncode == 0, result.stdout


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """A unit test expecting an alert that cannot fire fails, so the tests above mean something."""
    suite = {
        "rule_files": [str(assets.RULES_FILE)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": 'gale_ready{job="gale", pod="p"}', "values": "1x30"}],
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": "GaleInstanceNotReady",
                        "exp_alerts": [
                            {"exp_labels": {"severity": "warning", "job": "gale", "pod": "p"}}
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "impossible.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    result = promtool("test", "rules", path)
    assert result.returncode != 0
    assert "GaleInstanceNotReady" in result.stdout


def test_every_alert_fires_in_some_unit_test() -> None:
    fired = set()
    for path in assets.rule_test_files():
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            fired |= {
                t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")
            }
    assert fired == {rule["alert"] for rule in assets.alerting_rules()}


def test_recording_rules_follow_level_metric_operations_naming() -> None:
    """`level:metric:operations` (Prometheus' convention) sets recorded series apart."""
    recorded = [rule["record"] for rule in assets.rules() if "record" in rule]
    assert recorded
    assert all(re.fullmatch(r"gale:[a-z_]+:[a-z0-9_]+", name) for name in recorded), recorded


@pytest.mark.parametrize("rule", assets.alerting_rules(), ids=lambda rule: rule["alert"])
def test_alert_is_actionable(rule: assets.JSON) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    assert annotations["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()


def test_every_runbook_url_has_a_section() -> None:
    headings = re.findall(
        r"^## (\S+)\s*$", assets.RUNBOOKS.read_text(encoding="utf-8"), re.MULTILINE
    )
    anchors = {heading.lower() for heading in headings}
    linked = {
        rule["annotations"]["runbook_url"].rpartition("#")[2] for rule in assets.alerting_rules()
    }
    assert linked <= anchors, linked - anchors


def test_burn_rate_alerts_pair_a_long_and_a_short_window() -> None:
    """SRE workbook: page on 1h and 5m above 14.4x budget, ticket on 6h and 30m above 6x."""
    expected = {"critical": ("1h", "5m", "14.4"), "warning": ("6h", "30m", "6")}
    burn_alerts = [rule for rule in assets.alerting_rules() if "slo" in rule["labels"]]
    assert {rule["labels"]["slo"] for rule in burn_alerts} == {"availability", "latency"}
    for rule in burn_alerts:
        long, short, factor = expected[rule["labels"]["severity"]]
        windows = re.findall(r"ratio_rate(\w+) > \((\S+) \* ", rule["expr"])
        assert windows == [(long, factor), (short, factor)], rule["alert"]
