"""kubectl 1.32, the real client, against the emulator and the running operator.

As a user would: apply the CRD and the samples, ``get`` with the printer columns,
``describe``, ``scale``, ``wait --for=condition=Ready``, ``delete`` (background, and
``--cascade=orphan``, which must keep the children).
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import time
from typing import Any

import pytest

from tests.operator.cluster import CRD_PATH, ROOT, SAMPLE_PATH, Api, wait_until
from tests.operator.test_e2e import CHILDREN, play_deployment_controller

SECRET_SAMPLE = ROOT / "operator" / "samples" / "mongodb-secret.yaml"
INSTALL = (
    "kubectl 1.32 is needed on PATH: `apt-get install kubectl` (the package these machines' "
    "image ships), or download it from https://dl.k8s.io/release/v1.32.4/bin/linux/amd64/kubectl"
)


@pytest.fixture(scope="module")
def kubectl(cluster: tuple[Api, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail(INSTALL)
    cache = tmp_path_factory.mktemp("kubectl-cache")
    kubeconfig: pathlib.Path = cluster[1]["kubeconfig"]

    def run(
        *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [binary, f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done

    version = run("version", "--client").stdout
    assert "v1.32." in version, f"{INSTALL}; found: {version}"
    return run


def test_apply_get_describe_scale_wait(kubectl: Any, api: Api) -> None:
    kubectl("apply", "-f", str(CRD_PATH))  # installed by the fixture already: unchanged
    for path in (SECRET_SAMPLE, SAMPLE_PATH):
        applied = kubectl("apply", "-f", str(path))
        assert "created" in applied.stdout
        assert "Warning" not in applied.stderr, applied.stderr
    header = kubectl("get", "ms").stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "REPLICAS", "AVAILABLE", "VERSION", "TLS", "AGE"]
    wait_until(lambda: api.get(CHILDREN["deployment"].format(ns="default")), what="Deployment")
    play_deployment_controller(api, "default")
    waited = kubectl("wait", "--for=condition=Ready", "ms/gale", "--timeout=30s", timeout=40)
    assert "condition met" in waited.stdout
    (row,) = kubectl("get", "microservices").stdout.splitlines()[1:]
    assert row.split()[:6] == ["gale", "True", "2", "2", "0.1.0", "disabled"]
    described = kubectl("describe", "ms", "gale").stdout
    assert "Ready" in described
    events = described.split("Events:", 1)[1]
    assert "Created" in events
    assert "Deployment gale" in events
    assert "scaled" in kubectl("scale", "ms/gale", "--replicas=3").stdout
    wait_until(
        lambda: api.get(CHILDREN["deployment"].format(ns="default"))["spec"]["replicas"] == 3,
        what="the Deployment scaled to 3",
    )
    assert kubectl("get", "ms", "gale", "-o", "jsonpath={.spec.replicas}").stdout == "3"


def test_delete_with_cascade_orphan_keeps_the_children(kubectl: Any, api: Api) -> None:
    deleted = kubectl("delete", "ms", "gale", "--cascade=orphan", "--timeout=30s", timeout=40)
    assert 'microservice.gale.dev "gale" deleted' in deleted.stdout
    assert kubectl("get", "ms", "gale", check=False).returncode != 0
    time.sleep(2)  # the collector and the operator had their chance
    for path in CHILDREN.values():
        child = api.get(path.format(ns="default"))
        assert child is not None, path
        assert not child["metadata"].get("ownerReferences"), path


def test_delete_cascades_to_the_children(kubectl: Any, api: Api) -> None:
    for path in CHILDREN.values():  # the orphans of the test before: out of the way
        api.session.delete(api.base + path.format(ns="default"), timeout=10)
    kubectl("apply", "-f", str(SAMPLE_PATH))
    wait_until(lambda: api.get(CHILDREN["deployment"].format(ns="default")), what="Deployment")
    kubectl("delete", "-f", str(SAMPLE_PATH), "--timeout=30s", timeout=40)
    for path in CHILDREN.values():
        wait_until(lambda p=path: api.get(p.format(ns="default")) is None, what=f"{path} gone")
