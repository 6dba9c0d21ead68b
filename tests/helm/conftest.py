"""Renders shared by the chart tests: one per values file under helm/gale/ci."""

from __future__ import annotations

import pytest

from tests.helm.chart import VALUES_FILES, Render, render_file


@pytest.fixture(scope="session", params=sorted(VALUES_FILES))
def rendered(request: pytest.FixtureRequest) -> Render:
    """The chart rendered with each ci/*-values.yaml file in turn."""
    return render_file(request.param)
