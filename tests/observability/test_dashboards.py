"""Dashboard conventions Grafana's schema cannot express: stable identity, data source
through a variable, unique panel ids, a layout without overlaps."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from tests.observability import assets
from tests.observability.queries import dashboard_queries

EXPECTED_UIDS = {"gale-operator.json": "gale-operator", "gale-service.json": "gale-service"}
"""Pinned: links, bookmarks and alert annotations point at these uids."""

DASHBOARDS = assets.dashboard_paths()


def test_every_dashboard_has_its_pinned_uid() -> None:
    found = {path.name: assets.load_dashboard(path).get("uid") for path in DASHBOARDS}
    assert found == EXPECTED_UIDS


def test_titles_are_unique() -> None:
    titles = [assets.load_dashboard(path).get("title") for path in DASHBOARDS]
    assert all(titles)
    assert len(set(titles)) == len(titles), titles


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
class TestDashboard:
    def test_identity_is_portable(self, path: Path) -> None:
        """A uid Grafana accepts (8-40 URL-safe characters) and no instance-local numeric id."""
        dashboard = assets.load_dashboard(path)
        assert re.fullmatch(r"[a-z0-9-]{8,40}", dashboard["uid"])
        assert dashboard.get("id") is None
        assert dashboard["title"].strip()

    def test_datasource_and_namespace_are_variables(self, path: Path) -> None:
        variables = {v["name"]: v for v in assets.template_variables(assets.load_dashboard(path))}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert variables["namespace"]["type"] == "query"
        assert variables["namespace"]["datasource"] == assets.PROMETHEUS_DATASOURCE

    def test_every_panel_and_query_uses_the_datasource_variable(self, path: Path) -> None:
        dashboard = assets.load_dashboard(path)
        wrong = []
        for panel in assets.query_panels(dashboard):
            if panel.get("datasource") != assets.PROMETHEUS_DATASOURCE:
                wrong.append(f"panel {panel.get('id')}: {panel.get('datasource')}")
            for target in panel.get("targets", []):
                if target.get("datasource") != assets.PROMETHEUS_DATASOURCE:
                    wrong.append(f"panel {panel.get('id')} query {target.get('refId')}")
        assert not wrong

    def test_panel_ids_are_unique(self, path: Path) -> None:
        ids = [panel.get("id") for panel in assets.panels(assets.load_dashboard(path))]
        duplicates = sorted({i for i in ids if ids.count(i) > 1}, key=str)
        assert None not in ids
        assert not duplicates

    def test_panels_are_titled_and_explained(self, path: Path) -> None:
        """Titles name what is plotted; descriptions (the panel's "i") say how to read it."""
        untitled = [
            panel["id"]
            for panel in assets.query_panels(assets.load_dashboard(path))
            if not panel.get("title", "").strip() or not panel.get("description", "").strip()
        ]
        assert not untitled

    def test_every_panel_queries_something(self, path: Path) -> None:
        dashboard = assets.load_dashboard(path)
        empty = [p["id"] for p in assets.query_panels(dashboard) if not p.get("targets")]
        assert not empty
        for panel in assets.query_panels(dashboard):
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert len(set(ref_ids)) == len(ref_ids), panel["id"]

    def test_queries_use_only_defined_variables(self, path: Path) -> None:
        for query in dashboard_queries(assets.load_dashboard(path), name=path.name):
            query.resolved()

    def test_panels_fit_the_grid_without_overlapping(self, path: Path) -> None:
        boxes = []
        for panel in assets.panels(assets.load_dashboard(path)):
            pos = panel["gridPos"]
            assert pos["x"] >= 0
            assert min(pos["w"], pos["h"]) > 0
            assert pos["x"] + pos["w"] <= 24, f"panel {panel['id']} runs past 24 columns"
            boxes.append(
                (panel["id"], pos["x"], pos["y"], pos["x"] + pos["w"], pos["y"] + pos["h"])
            )
        overlapping = [
            (a[0], b[0])
            for a, b in itertools.combinations(boxes, 2)
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
        ]
        assert not overlapping
