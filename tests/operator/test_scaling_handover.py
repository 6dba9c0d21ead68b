"""The hand-back write against the emulated API server: conditional on what was read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import kmock
import pytest
from gale_operator.core import kinds
from gale_operator.kube.client import KubeClient
from gale_operator.kube.handover import hand_back_replicas
from kubernetes_asyncio import client as k8s

from tests.operator.apiserver import ApiServer
from tests.operator.cluster import CRD_PATH, load_yaml
from tests.ports import free_port

BODY: dict[str, Any] = {
    "apiVersion": kinds.MICROSERVICE.api_version,
    "kind": "Microservice",
    "metadata": {"name": "app", "namespace": "ns"},
    "spec": {"image": "r/app:1.0", "replicas": 2, "mongodb": {"uriSecretRef": {"name": "db"}}},
}


@pytest.fixture
async def kube() -> AsyncIterator[KubeClient]:
    port = free_port()
    async with ApiServer() as server, kmock.Server(server, port=port):
        client = KubeClient(
            k8s.ApiClient(configuration=k8s.Configuration(host=f"http://127.0.0.1:{port}"))
        )
        await client.create(kinds.CRD, load_yaml(CRD_PATH))
        yield client
        await client.close()


async def test_the_count_is_written_onto_the_version_that_was_read(kube: KubeClient) -> None:
    read = await kube.create(kinds.MICROSERVICE, BODY)
    assert await hand_back_replicas(kube, read, replicas=7)
    now = await kube.get(kinds.MICROSERVICE, namespace="ns", name="app")
    assert now is not None
    assert now["spec"]["replicas"] == 7
    assert now["metadata"]["generation"] == 2


async def test_a_change_since_the_read_wins_over_the_hand_back(kube: KubeClient) -> None:
    stale = await kube.create(kinds.MICROSERVICE, BODY)
    await kube.patch(
        kinds.MICROSERVICE, namespace="ns", name="app", patch={"spec": {"replicas": 4}}
    )
    assert not await hand_back_replicas(kube, stale, replicas=7)
    now = await kube.get(kinds.MICROSERVICE, namespace="ns", name="app")
    assert now is not None
    assert now["spec"]["replicas"] == 4  # the user's change stands; the next pass decides anew
