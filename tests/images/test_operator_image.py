"""The built operator image against the emulated API server: it reconciles the sample
``Microservice`` to Ready, running as uid 10001 on a read-only root with a mounted kubeconfig."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.images.containers import Image
from tests.operator.cluster import CRD_PATH, ROOT, Api, load_yaml, wait_until, write_kubeconfig
from tests.operator.test_e2e import (
    condition,
    make_microservice,
    make_secret,
    play_deployment_controller,
)
from tests.ports import free_port, wait_for_port

pytestmark = pytest.mark.timeout(600)
NAMESPACE = "images"


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, int]]:
    port = free_port()
    log = (tmp_path_factory.mktemp("image-apiserver") / "apiserver.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.operator.apiserver", "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port)
        api = Api(f"http://127.0.0.1:{port}")
        api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", load_yaml(CRD_PATH))
        api.post("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        yield api, port
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def test_reconciles_the_sample_to_ready(
    operator_image: Image, api_server: tuple[Api, int], tmp_path: Path
) -> None:
    api, port = api_server
    kube = tmp_path / "kube"
    kube.mkdir(mode=0o755)
    write_kubeconfig(kube / "config", port=port)
    (kube / "config").chmod(0o644)
    health, metrics = free_port(), free_port()
    argv = [
        *operator_image.entrypoint,
        "--verbose",
        "--health-port",
        str(health),
        "--metrics-port",
        str(metrics),
        "--reconcile-interval",
        "1",
    ]
    env = {"KUBECONFIG": "/run/kube/config", "GALE_OPERATOR_HEALTH_PORT": str(health)}
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        process = operator_image.launch(argv, env=env, binds=[(kube, "/run/kube")], stdout=out)
    try:
        wait_for_port(health, timeout=60)
        make_secret(api, NAMESPACE)
        make_microservice(api, NAMESPACE)
        wait_until(
            lambda: (c := condition(api, NAMESPACE, "Ready")) and c["status"] == "False",
            timeout=60,
            what="the operator to report the new Microservice not ready yet",
        )
        assert api.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/gale")
        play_deployment_controller(api, NAMESPACE)
        wait_until(
            lambda: (c := condition(api, NAMESPACE, "Ready")) and c["status"] == "True",
            timeout=60,
            what="Ready=True once the pods run",
        )
        metrics_text = requests.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
        assert "gale_operator_microservices" in metrics_text
        # The image's own HEALTHCHECK, run inside it, asks the operator's liveness endpoint.
        test = operator_image.config["Healthcheck"]["Test"]
        status, output = operator_image.run(test[1:], env=env)
        assert status == 0, output
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    assert code == 0, log.read_text(errors="replace")[-4000:]
