"""Every PromQL expression in the dashboards parses and type-checks in Prometheus itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.observability import assets
from tests.observability.promtool import promql_errors
from tests.observability.queries import Query, dashboard_queries


@pytest.mark.parametrize("path", assets.dashboard_paths(), ids=lambda path: path.name)
def test_dashboard_queries_are_valid_promql(path: Path, tmp_path: Path) -> None:
    queries = dashboard_queries(assets.load_dashboard(path), name=path.name)
    assert queries, f"{path.name} runs no PromQL"
    errors = promql_errors(queries, workdir=tmp_path)
    assert not errors, "\n".join(f"{origin}: {error}" for origin, error in errors.items())


def test_promql_check_reports_each_broken_query(tmp_path: Path) -> None:
    """The check above can fail: promtool's parse and type errors reach the right query."""
    queries = [
        Query(origin="fine", expr="sum(rate(gale_ready[$__rate_interval]))"),
        Query(origin="unclosed", expr="sum(rate(gale_ready[5m])"),
        Query(origin="instant vector to rate", expr="rate(gale_ready)"),
        Query(origin="unknown function", expr="histogram_quantile_typo(0.9, gale_ready)"),
    ]
    errors = promql_errors(queries, workdir=tmp_path)
    assert set(errors) == {"unclosed", "instant vector to rate", "unknown function"}
    assert "expected type range vector" in errors["instant vector to rate"]
