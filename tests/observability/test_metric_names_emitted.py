"""Every metric a dashboard or alert rule reads is really emitted by a running process.

Names are compared as samples (``_bucket``, ``_count``, ``_total`` included), read from the
``/metrics`` of the service (a child process, as in a pod) and of the operator (the real
operator process against the emulated API server, reconciling a Microservice with
self-signed TLS so the certificate-expiry gauge has a value).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.observability.queries import referenced_series_names
from tests.observability.service_process import mongo, service_process
from tests.operator.cluster import MS, SAMPLE_PATH, emulated_cluster, load_yaml


def emitted_sample_names(url: str) -> frozenset[str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return frozenset(
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    )


def missing_after(
    scrape: Callable[[], frozenset[str]], wanted: frozenset[str], *, timeout: float
) -> frozenset[str]:
    """What is still not emitted once ``timeout`` passed (or nothing, as soon as all are)."""
    deadline = time.monotonic() + timeout
    while True:
        missing = wanted - scrape()
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(0.2)


def test_the_references_cover_both_jobs() -> None:
    """Guards the two tests below against comparing with an empty set."""
    assert referenced_series_names(job="gale")
    assert referenced_series_names(job="gale-operator")
    assert referenced_series_names() == referenced_series_names(
        job="gale"
    ) | referenced_series_names(job="gale-operator"), "every query pins its job"


def test_service_emits_every_name_the_dashboards_and_rules_read(tmp_path: Path) -> None:
    wanted = referenced_series_names(job="gale")
    with mongo(tmp_path) as db, service_process(mongodb_uri=db.uri, tmp=tmp_path) as service:
        urllib.request.urlopen(f"{service.url}/livez", timeout=5).close()
        with contextlib.suppress(OSError):  # 404: counted under the one "unmatched" route
            urllib.request.urlopen(f"{service.url}/no/such/page", timeout=5)

        def scrape() -> frozenset[str]:
            return emitted_sample_names(f"{service.url}/metrics")

        missing = missing_after(scrape, wanted, timeout=10)
    assert not missing, f"dashboards/rules read series the service never emits: {sorted(missing)}"


def test_operator_emits_every_name_the_dashboards_and_rules_read(tmp_path: Path) -> None:
    wanted = referenced_series_names(job="gale-operator")
    ns = "metrics-names"
    with (
        (tmp_path / "cluster.log").open("wb") as log,
        emulated_cluster(tmp_path, log=log) as (api, info),
    ):
        uri = base64.b64encode(b"mongodb://mongo:27017/?retryWrites=false").decode()
        api.post(
            f"/api/v1/namespaces/{ns}/secrets",
            {"metadata": {"name": "gale-mongodb"}, "data": {"uri": uri}},
        )
        body = copy.deepcopy(load_yaml(SAMPLE_PATH))
        body["metadata"]["namespace"] = ns
        body["spec"]["tls"] = {"mode": "selfSigned"}
        api.post(f"{MS}/namespaces/{ns}/microservices", body)

        def scrape() -> frozenset[str]:
            return emitted_sample_names(f"http://127.0.0.1:{info['metrics_port']}/metrics")

        missing = missing_after(scrape, wanted, timeout=30)
    assert not missing, f"dashboards/rules read series the operator never emits: {sorted(missing)}"
