"""The driver seam: both drivers get the configured pool, timeouts and write concern."""

from __future__ import annotations

import pytest
from gale_service.db import connect

from tests.mongo import SecantusServer
from tests.service.harness import live_service


@pytest.mark.parametrize("driver", ["pymongo", "motor"])
async def test_settings_reach_the_client(driver: str) -> None:
    gateway = connect(
        "mongodb://127.0.0.1:1/?retryWrites=false",
        database="configured",
        driver=driver,
        max_pool_size=7,
        min_pool_size=2,
        server_selection_timeout_ms=321,
        timeout_ms=1234,
        write_concern="majority",
        journal=True,
    )
    try:
        options = gateway.database.client.options
        assert gateway.database.write_concern.document == {"w": "majority", "j": True}
        assert options.pool_options.max_pool_size == 7
        assert options.pool_options.min_pool_size == 2
        assert options.server_selection_timeout == 0.321
        assert options.timeout == 1.234
        assert options.retry_writes is False
        assert gateway.transaction_budget == 1.234
        assert gateway.database_name == "configured"
    finally:
        await gateway.close()


async def test_the_service_passes_its_settings(mongo_server: SecantusServer, driver: str) -> None:
    async with live_service(
        mongo_server.uri, driver=driver, mongodb_max_pool_size=9, mongodb_write_concern="1"
    ) as live:
        gateway = live.services.gateway
        assert gateway.driver == driver
        assert gateway.database.client.options.pool_options.max_pool_size == 9
        assert gateway.database.write_concern.document == {"w": 1, "j": True}
