"""Fixtures for the service: one SecantusDB server per session, a live service per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service

DRIVERS = ("pymongo", "motor")


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusServer]:
    server = SecantusServer(tmp_path_factory.mktemp("secantus") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusServer]:
    """A SecantusDB of the test's own, which it may stop, kill and restart (same port, same
    data) without disturbing the session's server."""
    server = SecantusServer(tmp_path_factory.mktemp("own-secantus") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    """Every test that uses this runs once per driver."""
    name: str = request.param
    return name


@pytest.fixture
async def service(mongo_server: SecantusServer, driver: str) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri, driver=driver) as live:
        yield live


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "gale-data"


@pytest.fixture
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No GALE_* leaks in from the developer's shell; an empty secrets dir, returned."""
    for name in list(os.environ):
        if name.startswith("GALE_"):
            monkeypatch.delenv(name)
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    monkeypatch.setenv("GALE_SECRETS_DIR", str(secrets_dir))
    monkeypatch.chdir(tmp_path)
    return secrets_dir
