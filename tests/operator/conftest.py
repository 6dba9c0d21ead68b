"""The emulated cluster the operator's end-to-end modules run against.

Module-scoped: each e2e module gets its own emulated API server and operator process, so a
module's leftovers never leak into another's, while its tests share one start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.operator.cluster import Api, emulated_cluster


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, dict[str, Any]]]:
    """The API client and the started processes' details (ports, the API access log)."""
    workdir = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with (workdir / "processes.log").open("wb") as log, emulated_cluster(workdir, log=log) as c:
        yield c


@pytest.fixture
def api(cluster: tuple[Api, dict[str, Any]]) -> Api:
    return cluster[0]
