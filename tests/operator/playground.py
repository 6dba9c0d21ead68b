"""``make playground``: a first look at the operator without a cluster.

Starts the EMULATED Kubernetes API server (kmock, see ``tests/operator/apiserver.py``), the
real operator process against it, applies the sample Secret and Microservice, plays the
Deployment controller (no pods run here), and prints what the operator created and the
Microservice's status. With ``--keep`` it stays up and prints a kubeconfig for kubectl.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import pathlib
import sys
import tempfile
import time
from typing import Any

import yaml

from tests.operator.cluster import (
    MS,
    ROOT,
    SAMPLE_PATH,
    Api,
    emulated_cluster,
    load_yaml,
    wait_until,
)

SECRET_PATH = ROOT / "operator" / "samples" / "mongodb-secret.yaml"
CHILDREN = (
    ("ConfigMap", "/api/v1/namespaces/{ns}/configmaps"),
    ("Service", "/api/v1/namespaces/{ns}/services"),
    ("Deployment", "/apis/apps/v1/namespaces/{ns}/deployments"),
    ("PodDisruptionBudget", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"),
    ("HorizontalPodAutoscaler", "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"),
    ("NetworkPolicy", "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"),
)
BANNER = "EMULATED Kubernetes API server (kmock) - nothing here runs on a real cluster"


def _apply_samples(api: Api) -> dict[str, Any]:
    secret = load_yaml(SECRET_PATH)
    ns = secret["metadata"]["namespace"]
    secret["data"] = {k: _b64(v) for k, v in secret.pop("stringData").items()}
    api.post(f"/api/v1/namespaces/{ns}/secrets", secret)
    sample = load_yaml(SAMPLE_PATH)
    created: dict[str, Any] = api.post(f"{MS}/namespaces/{ns}/microservices", sample)
    return created


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _play_deployment_controller(api: Api, ns: str, name: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"
    dep = wait_until(lambda: api.get(path), what="the Deployment")
    replicas = dep["spec"].get("replicas", 1)
    counts = dict.fromkeys(
        ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"), replicas
    )
    api.patch(
        f"{path}/status",
        {"status": {"observedGeneration": dep["metadata"]["generation"], **counts}},
    )


def _show(api: Api, ns: str, name: str) -> None:
    print(f"\n=== {BANNER} ===\n")
    print(f"Objects the operator created in namespace {ns!r} (owner: Microservice/{name}):")
    for kind, path in CHILDREN:
        for item in api.get(path.format(ns=ns))["items"]:
            owners = [r["kind"] for r in item["metadata"].get("ownerReferences") or []]
            print(f"  {kind:<24} {item['metadata']['name']:<16} owned by {', '.join(owners)}")
    events = api.get(f"/api/v1/namespaces/{ns}/events")["items"]
    print("\nEvents:")
    for event in events:
        print(f"  {event['type']:<8} {event['reason']:<14} {event['message']}")
    ms = api.get(f"{MS}/namespaces/{ns}/microservices/{name}")
    print(f"\nkubectl get ms {name} -o yaml  (status):")
    print(yaml.safe_dump({"status": ms.get("status")}, sort_keys=False), end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="stay up until Ctrl-C")
    args = parser.parse_args()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="gale-playground-"))
    log_path = workdir / "processes.log"
    print(f"{BANNER}\nstarting it, the operator, and the samples (logs: {log_path}) ...")
    with log_path.open("wb") as log, emulated_cluster(workdir, log=log) as (api, info):
        created = _apply_samples(api)
        ns, name = created["metadata"]["namespace"], created["metadata"]["name"]
        _play_deployment_controller(api, ns, name)
        wait_until(
            lambda: any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (
                    (api.get(f"{MS}/namespaces/{ns}/microservices/{name}") or {}).get("status")
                    or {}
                ).get("conditions")
                or []
            ),
            what="the Microservice to report Ready",
        )
        _show(api, ns, name)
        if args.keep:
            print(f"\nexport KUBECONFIG={info['kubeconfig']}   # then: kubectl get ms")
            print("Ctrl-C to stop.")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
