"""Probes: /livez always, /startupz after migrations, /readyz on a fresh ping unless draining."""

from __future__ import annotations

import asyncio
import json

from gale_service.store.migrations import MIGRATIONS, VERSION_ID, apply_migrations

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service


async def probe(service: LiveService, path: str) -> tuple[int, dict[str, str]]:
    response = await service.fetch(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("application/json")
    return response.code, json.loads(response.body)


async def wait_ready(service: LiveService, *, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await service.fetch("/readyz")).code != 200:
        assert asyncio.get_running_loop().time() < deadline, "never became ready"
        await asyncio.sleep(0.05)


async def test_probes_of_a_started_service(service: LiveService) -> None:
    await wait_ready(service)
    assert await probe(service, "/livez") == (
        200,
        {"status": "ok", "reason": "event loop responsive"},
    )
    assert await probe(service, "/startupz") == (
        200,
        {"status": "ok", "reason": "migrations applied"},
    )
    assert await probe(service, "/readyz") == (200, {"status": "ok", "reason": "ok"})


async def test_draining_flips_readyz_at_once(service: LiveService) -> None:
    await wait_ready(service)
    service.services.health.draining = True
    code, body = await probe(service, "/readyz")
    assert code == 503
    assert body["reason"].startswith("draining")
    assert (await probe(service, "/livez"))[0] == 200


async def test_migrations_are_recorded_and_idempotent(service: LiveService) -> None:
    gateway = service.services.gateway
    latest = MIGRATIONS[-1][0]
    record = await gateway.collection("meta").find_one({"_id": VERSION_ID})
    assert record["version"] == latest
    assert await apply_migrations(gateway) == latest
    again = await gateway.collection("meta").find_one({"_id": VERSION_ID})
    assert again["applied_at"] == record["applied_at"], "nothing re-applied"
    names = {index["name"] async for index in await _indexes(gateway.collection("items"))}
    assert {"tags_id", "owner_id"} <= names


async def _indexes(collection: object) -> object:
    listed = collection.list_indexes()  # type: ignore[attr-defined]
    return await listed if asyncio.iscoroutine(listed) else listed


async def test_unreachable_database_at_start(tmp_path_factory: object, driver: str) -> None:
    """Not started and not ready while the DB is down; both flip once it comes up."""
    server = SecantusServer(tmp_path_factory.mktemp("late") / "data")  # type: ignore[attr-defined]
    async with live_service(
        server.uri, driver=driver, wait_started=False, mongodb_server_selection_timeout_ms=300
    ) as live:
        await asyncio.sleep(0.5)
        code, body = await probe(live, "/startupz")
        assert (code, body["reason"]) == (503, "migrations running")
        code, body = await probe(live, "/readyz")
        assert code == 503
        assert body["reason"].startswith("starting")
        assert (await probe(live, "/livez"))[0] == 200
        await asyncio.to_thread(server.start)
        try:
            await asyncio.wait_for(live.running.migrations, timeout=20)
            await wait_ready(live)
            assert (await probe(live, "/startupz"))[0] == 200
        finally:
            await asyncio.to_thread(server.stop)
