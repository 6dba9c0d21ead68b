"""The client's Secret cache against the emulated API server: what it saves, what it never hides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import kmock
import pytest
from gale_operator.core import kinds
from gale_operator.kube.client import ApiError, KubeClient
from kubernetes_asyncio import client as k8s

from tests.operator.apiserver import ApiServer
from tests.ports import free_port

SECRET_PATH = "/api/v1/namespaces/shop/secrets/db$"


@pytest.fixture
async def served() -> AsyncIterator[tuple[ApiServer, KubeClient]]:
    port = free_port()
    async with ApiServer() as server, kmock.Server(server, port=port):
        client = KubeClient(
            k8s.ApiClient(configuration=k8s.Configuration(host=f"http://127.0.0.1:{port}")),
            cached=(kinds.SECRET,),
        )
        yield server, client
        await client.close()


async def test_concurrent_reads_of_one_secret_share_one_request(
    served: tuple[ApiServer, KubeClient],
) -> None:
    server, client = served
    body = {"metadata": {"name": "db", "namespace": "shop"}, "stringData": {"uri": "mongodb://m"}}
    await client.create(kinds.SECRET, body)
    client._cache.clear()  # as after a start-up: nothing read yet
    server.faults.load([{"method": "GET", "path": SECRET_PATH, "delay": 0.3}])  # counts GETs
    found = await asyncio.gather(
        *(client.get(kinds.SECRET, namespace="shop", name="db") for _ in range(20))
    )
    assert all(secret and secret["data"]["uri"] for secret in found)
    assert server.faults.rules[0].fired == 1
    await client.get(kinds.SECRET, namespace="shop", name="db")
    assert server.faults.rules[0].fired == 1  # then served from the cache


async def test_a_missing_secret_is_asked_again_every_time(
    served: tuple[ApiServer, KubeClient],
) -> None:
    server, client = served
    server.faults.load([{"method": "GET", "path": SECRET_PATH}])  # no status: only counts
    for _ in range(2):
        found = await asyncio.gather(
            *(client.get(kinds.SECRET, namespace="shop", name="db") for _ in range(5))
        )
        assert found == [None] * 5
    assert server.faults.rules[0].fired == 2  # shared while in flight, never cached


async def test_a_failed_shared_read_fails_every_reader_and_is_not_kept(
    served: tuple[ApiServer, KubeClient],
) -> None:
    server, client = served
    await client.create(
        kinds.SECRET, {"metadata": {"name": "db", "namespace": "shop"}, "data": {"uri": "eA=="}}
    )
    client._cache.clear()
    # An answer the client does not retry (a GET never gets a 409 from a real server; here it
    # only stands for "an error"), slow enough that all readers join the one request.
    server.faults.load(
        [{"method": "GET", "path": SECRET_PATH, "status": 409, "delay": 0.3, "count": 1}]
    )
    results = await asyncio.gather(
        *(client.get(kinds.SECRET, namespace="shop", name="db") for _ in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, ApiError) and r.status == 409 for r in results)
    secret = await client.get(kinds.SECRET, namespace="shop", name="db")
    assert secret is not None
    assert secret["data"] == {"uri": "eA=="}
