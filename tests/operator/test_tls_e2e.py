"""TLS end to end: the real operator process against the emulated API server.

The test plays cert-manager where the cluster would have it (installing its CRD, reporting a
Certificate Ready) and lets time pass by aging the stored certificate, never by sleeping.
"""

from __future__ import annotations

import base64
import copy
import datetime
import itertools
from typing import Any

import pytest
import requests
from cryptography import x509
from gale_operator.core.pki import (
    CertificateAuthority,
    certificate_dns_names,
    issue_serving_certificate,
)
from gale_operator.core.tls import serving_secret_data
from prometheus_client.parser import text_string_to_metric_families

from tests.operator.cluster import MS, SAMPLE_PATH, Api, load_yaml, wait_until
from tests.operator.test_tls_kube import CERT_MANAGER_CRD

_namespaces = itertools.count()
SECRETS = "/api/v1/namespaces/{ns}/secrets"


@pytest.fixture
def ns(api: Api) -> str:
    namespace = f"tls-{next(_namespaces)}"
    uri = base64.b64encode(b"mongodb://mongo:27017/?retryWrites=false").decode()
    api.post(
        SECRETS.format(ns=namespace), {"metadata": {"name": "gale-mongodb"}, "data": {"uri": uri}}
    )
    return namespace


def microservice(api: Api, ns: str, name: str, tls: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(load_yaml(SAMPLE_PATH))
    body["metadata"].update(name=name, namespace=ns)
    body["spec"]["tls"] = tls
    created: dict[str, Any] = api.post(f"{MS}/namespaces/{ns}/microservices", body)
    return created


def status(api: Api, ns: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = (api.get(f"{MS}/namespaces/{ns}/microservices/{name}") or {}).get(
        "status"
    ) or {}
    return found


def condition(api: Api, ns: str, name: str, type_: str, value: str) -> dict[str, Any] | None:
    for found in status(api, ns, name).get("conditions") or []:
        if found["type"] == type_ and found["status"] == value:
            return dict(found)
    return None


def secret(api: Api, ns: str, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = api.get(f"{SECRETS.format(ns=ns)}/{name}")
    return found


def serving_cert(api: Api, ns: str, name: str) -> x509.Certificate:
    stored = wait_until(lambda: secret(api, ns, f"{name}-tls"), what=f"Secret {name}-tls")
    return x509.load_pem_x509_certificate(base64.b64decode(stored["data"]["tls.crt"]))


def namespace_ca(api: Api, ns: str) -> CertificateAuthority:
    stored = secret(api, ns, "gale-ca")
    assert stored is not None
    data = {key: base64.b64decode(value) for key, value in stored["data"].items()}
    return CertificateAuthority(data["tls.crt"], data["tls.key"])


def expiry_gauge(url: str, ns: str, name: str) -> float | None:
    text = requests.get(url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gale_operator_certificate_expiry_timestamp_seconds" and (
                sample.labels == {"namespace": ns, "name": name}
            ):
                return float(sample.value)
    return None


def test_self_signed_issues_reports_and_shares_the_namespace_ca(
    cluster: tuple[Api, dict[str, Any]], ns: str
) -> None:
    api, info = cluster
    web = microservice(api, ns, "web", {"mode": "selfSigned", "dnsNames": ["web.example.com"]})
    cert = serving_cert(api, ns, "web")
    assert certificate_dns_names(cert) == (
        "web",
        f"web.{ns}",
        f"web.{ns}.svc",
        f"web.{ns}.svc.cluster.local",
        "web.example.com",
    )
    ca = namespace_ca(api, ns)
    cert.verify_directly_issued_by(ca.certificate)
    stored = secret(api, ns, "web-tls")
    assert stored is not None
    assert base64.b64decode(stored["data"]["ca.crt"]) == ca.cert_pem
    assert [ref["uid"] for ref in stored["metadata"]["ownerReferences"]] == [web["metadata"]["uid"]]

    ready = wait_until(lambda: condition(api, ns, "web", "TLSReady", "True"), what="TLSReady")
    assert ready["reason"] == "Issued"
    tls = status(api, ns, "web")["tls"]
    not_after = cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tls["secretName"] == "web-tls"
    assert tls["notAfter"] == not_after
    assert tls["renewalTime"] < not_after

    metrics_url = f"http://127.0.0.1:{info['metrics_port']}/metrics"
    expiry = wait_until(lambda: expiry_gauge(metrics_url, ns, "web"), what="the expiry gauge")
    assert expiry == cert.not_valid_after_utc.timestamp()

    microservice(api, ns, "shop", {"mode": "selfSigned"})
    serving_cert(api, ns, "shop").verify_directly_issued_by(ca.certificate)
    assert namespace_ca(api, ns) == ca, "the second Microservice reuses the namespace CA"


def test_an_aged_certificate_is_renewed_without_a_restart(api: Api, ns: str) -> None:
    microservice(api, ns, "web", {"mode": "selfSigned", "duration": "2160h", "renewBefore": "360h"})
    serving_cert(api, ns, "web")
    wait_until(lambda: condition(api, ns, "web", "TLSReady", "True"), what="TLSReady")
    # Eighty days pass: the stored certificate is now within its renewal window.
    issued_at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=80)
    aged = issue_serving_certificate(
        namespace_ca(api, ns),
        dns_names=("web", f"web.{ns}", f"web.{ns}.svc", f"web.{ns}.svc.cluster.local"),
        now=issued_at,
        duration=datetime.timedelta(days=90),
    )
    api.patch(f"{SECRETS.format(ns=ns)}/web-tls", {"data": serving_secret_data(aged)})

    def renewed_cert() -> x509.Certificate | None:
        current = serving_cert(api, ns, "web")
        return current if current.serial_number != aged.certificate.serial_number else None

    renewed = wait_until(renewed_cert, what="the renewed certificate")
    assert renewed.not_valid_before_utc > issued_at + datetime.timedelta(days=79)
    expected = renewed.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    wait_until(
        lambda: status(api, ns, "web").get("tls", {}).get("notAfter") == expected,
        what="status.tls.notAfter of the renewed certificate",
    )


def test_cert_manager_mode_degrades_without_its_crd_then_mirrors_ready(api: Api, ns: str) -> None:
    microservice(api, ns, "web", {"mode": "certManager", "issuerRef": {"name": "ca-issuer"}})
    degraded = wait_until(
        lambda: condition(api, ns, "web", "Degraded", "True"), what="Degraded=True"
    )
    assert degraded["reason"] == "CertManagerNotInstalled"
    assert "certificates.cert-manager.io" in degraded["message"]
    tls_ready = condition(api, ns, "web", "TLSReady", "False")
    assert tls_ready is not None
    assert tls_ready["reason"] == "CertManagerNotInstalled"

    # cert-manager gets installed: the Certificate appears and the degradation clears.
    api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CERT_MANAGER_CRD)
    path = f"/apis/cert-manager.io/v1/namespaces/{ns}/certificates/web"
    certificate = wait_until(lambda: api.get(path), what="the Certificate")
    assert certificate["spec"]["secretName"] == "web-tls"
    assert certificate["spec"]["issuerRef"] == {
        "name": "ca-issuer",
        "kind": "Issuer",
        "group": "cert-manager.io",
    }
    assert f"web.{ns}.svc" in certificate["spec"]["dnsNames"]
    wait_until(lambda: condition(api, ns, "web", "Degraded", "False"), what="Degraded=False")

    api.patch(
        f"{path}/status",
        {
            "status": {
                "notAfter": "2027-01-01T00:00:00Z",
                "renewalTime": "2026-12-01T00:00:00Z",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Ready",
                        "message": "Certificate is up to date and has not expired",
                        "observedGeneration": certificate["metadata"]["generation"],
                    }
                ],
            }
        },
    )
    mirrored = wait_until(
        lambda: condition(api, ns, "web", "TLSReady", "True"), what="TLSReady mirrored"
    )
    assert mirrored["reason"] == "Ready"
    assert "up to date" in mirrored["message"]
    assert status(api, ns, "web")["tls"]["notAfter"] == "2027-01-01T00:00:00Z"


def test_deleting_the_microservice_removes_its_serving_secret_not_the_ca(api: Api, ns: str) -> None:
    microservice(api, ns, "web", {"mode": "selfSigned"})
    serving_cert(api, ns, "web")
    api.delete(f"{MS}/namespaces/{ns}/microservices/web")
    wait_until(lambda: secret(api, ns, "web-tls") is None, what="the serving Secret to go")
    assert secret(api, ns, "gale-ca") is not None
