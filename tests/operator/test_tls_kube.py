"""The TLS step of the reconcile pass against the emulated API server, with an injected clock.

Months pass between two calls without any sleeping: ``now`` is an argument all the way down,
so renewal is exercised through the real API path (create, patch, races) deterministically.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from collections.abc import AsyncIterator
from typing import Any

import kmock
import pytest
from cryptography import x509
from gale_operator.core import kinds
from gale_operator.core.conditions import Status
from gale_operator.core.naming import Owner, service_dns_names
from gale_operator.core.pki import certificate_dns_names
from gale_operator.core.spec import TLS, IssuerRef, MicroserviceSpec, MongoDB, SecretKeyRef, TLSMode
from gale_operator.core.tls import load_authority
from gale_operator.core.tls_status import CERT_MANAGER_MISSING
from gale_operator.kube.apply import Action, ChildConflict
from gale_operator.kube.client import KubeClient
from gale_operator.kube.tls import TLSOutcome, reconcile_tls
from kubernetes_asyncio import client as k8s

from tests.operator.apiserver import ApiServer
from tests.ports import free_port

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)

CERT_MANAGER_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "certificates.cert-manager.io"},
    "spec": {
        "group": "cert-manager.io",
        "scope": "Namespaced",
        "names": {"plural": "certificates", "singular": "certificate", "kind": "Certificate"},
        "versions": [
            {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}
        ],
    },
}


@pytest.fixture
async def kube() -> AsyncIterator[KubeClient]:
    port = free_port()
    async with ApiServer() as server, kmock.Server(server, port=port):
        client = KubeClient(
            k8s.ApiClient(configuration=k8s.Configuration(host=f"http://127.0.0.1:{port}"))
        )
        yield client
        await client.close()


def spec(mode: TLSMode = TLSMode.SELF_SIGNED, **tls: Any) -> MicroserviceSpec:
    return MicroserviceSpec(
        image="gale:1",
        mongodb=MongoDB(uri_secret=SecretKeyRef(name="mongo")),
        tls=TLS(mode=mode, **tls),
    )


def owner(name: str = "api", namespace: str = "shop") -> Owner:
    return Owner(name=name, namespace=namespace, uid=f"uid-{namespace}-{name}")


async def serving_cert(kube: KubeClient, who: Owner) -> x509.Certificate:
    secret = await kube.get(kinds.SECRET, namespace=who.namespace, name=who.tls_secret_name)
    assert secret is not None
    assert secret["type"] == "kubernetes.io/tls"
    return x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))


async def namespace_ca(kube: KubeClient, namespace: str) -> x509.Certificate:
    secret = await kube.get(kinds.SECRET, namespace=namespace, name="gale-ca")
    assert secret is not None
    ca = load_authority(secret["data"], now=NOW)
    assert ca is not None
    return ca.certificate


def actions(outcome: TLSOutcome) -> list[tuple[str, str, Action]]:
    return [(a.kind.kind, a.name, a.action) for a in outcome.applied]


async def test_issues_a_serving_secret_for_the_service_names_and_reports_it(
    kube: KubeClient,
) -> None:
    api = owner()
    outcome = await reconcile_tls(
        kube, spec(dns_names=("api.example.com",)), owner=api, previous_tls=None, now=NOW
    )
    assert actions(outcome) == [
        ("Secret", "gale-ca", Action.CREATED),
        ("Secret", "api-tls", Action.CREATED),
    ]
    cert = await serving_cert(kube, api)
    assert certificate_dns_names(cert) == (*service_dns_names("api", "shop"), "api.example.com")
    cert.verify_directly_issued_by(await namespace_ca(kube, "shop"))
    secret = await kube.get(kinds.SECRET, namespace="shop", name="api-tls")
    assert secret is not None
    assert [ref["uid"] for ref in secret["metadata"]["ownerReferences"]] == [api.uid]
    report = outcome.report
    assert report is not None
    assert (report.status, report.reason) == (Status.TRUE, "Issued")
    assert report.tls == {
        "secretName": "api-tls",
        "notAfter": "2026-05-30T12:00:00Z",
        "renewalTime": "2026-05-15T12:00:00Z",
    }

    again = await reconcile_tls(
        kube,
        spec(dns_names=("api.example.com",)),
        owner=api,
        previous_tls=report.tls,
        now=NOW + DAY,
    )
    assert again.applied == (), "a valid certificate costs no write"
    assert await serving_cert(kube, api) == cert


async def test_renews_once_the_remaining_validity_drops_below_renew_before(
    kube: KubeClient,
) -> None:
    api = owner()
    first = await reconcile_tls(kube, spec(), owner=api, previous_tls=None, now=NOW)
    original = await serving_cert(kube, api)
    just_before = NOW + 75 * DAY - datetime.timedelta(seconds=1)
    kept = await reconcile_tls(kube, spec(), owner=api, previous_tls=None, now=just_before)
    assert kept.applied == ()

    renewed = await reconcile_tls(kube, spec(), owner=api, previous_tls=None, now=NOW + 75 * DAY)
    assert actions(renewed) == [("Secret", "api-tls", Action.PATCHED)]
    fresh = await serving_cert(kube, api)
    assert fresh.serial_number != original.serial_number
    assert fresh.not_valid_after_utc == NOW + 75 * DAY + 90 * DAY
    assert first.report is not None
    assert renewed.report is not None
    assert renewed.report.tls["renewalTime"] == "2026-07-29T12:00:00Z"
    fresh.verify_directly_issued_by(await namespace_ca(kube, "shop"))


async def test_changed_dns_names_are_reissued(kube: KubeClient) -> None:
    api = owner()
    await reconcile_tls(kube, spec(), owner=api, previous_tls=None, now=NOW)
    changed = await reconcile_tls(
        kube, spec(dns_names=("api.example.com",)), owner=api, previous_tls=None, now=NOW
    )
    assert actions(changed) == [("Secret", "api-tls", Action.PATCHED)]
    assert "api.example.com" in certificate_dns_names(await serving_cert(kube, api))


async def test_one_ca_per_namespace_even_when_microservices_race_for_it(
    kube: KubeClient,
) -> None:
    shop = [owner(f"svc{i}") for i in range(4)]
    await asyncio.gather(
        *(reconcile_tls(kube, spec(), owner=o, previous_tls=None, now=NOW) for o in shop)
    )
    ca = await namespace_ca(kube, "shop")
    for o in shop:
        (await serving_cert(kube, o)).verify_directly_issued_by(ca)
    await reconcile_tls(kube, spec(), owner=owner("api", "other"), previous_tls=None, now=NOW)
    assert await namespace_ca(kube, "other") != ca


async def test_a_serving_secret_someone_else_owns_is_a_conflict(kube: KubeClient) -> None:
    await kube.create(
        kinds.SECRET,
        {"metadata": {"name": "api-tls", "namespace": "shop"}, "data": {"tls.crt": ""}},
    )
    with pytest.raises(ChildConflict, match="api-tls"):
        await reconcile_tls(kube, spec(), owner=owner(), previous_tls=None, now=NOW)


CERT_MANAGER = {"issuer_ref": IssuerRef(name="ca-issuer"), "dns_names": ("api.example.com",)}


async def test_cert_manager_mode_without_its_crd_degrades_and_creates_nothing(
    kube: KubeClient,
) -> None:
    outcome = await reconcile_tls(
        kube, spec(TLSMode.CERT_MANAGER, **CERT_MANAGER), owner=owner(), previous_tls=None, now=NOW
    )
    assert outcome.report is not None
    assert (outcome.report.status, outcome.report.reason) == (Status.FALSE, CERT_MANAGER_MISSING)
    assert outcome.report.degraded
    assert outcome.applied == ()
    assert await kube.get(kinds.SECRET, namespace="shop", name="api-tls") is None


async def test_cert_manager_mode_applies_a_certificate_and_mirrors_its_ready(
    kube: KubeClient,
) -> None:
    await kube.create(kinds.CRD, CERT_MANAGER_CRD)
    api, wanted = owner(), spec(TLSMode.CERT_MANAGER, **CERT_MANAGER)
    outcome = await reconcile_tls(kube, wanted, owner=api, previous_tls=None, now=NOW)
    assert actions(outcome) == [("Certificate", "api", Action.CREATED)]
    assert outcome.report is not None
    assert (outcome.report.status, outcome.report.reason) == (Status.UNKNOWN, "CertificatePending")
    certificate = await kube.get(kinds.CERTIFICATE, namespace="shop", name="api")
    assert certificate is not None
    assert certificate["spec"]["secretName"] == "api-tls"
    assert certificate["spec"]["dnsNames"][-1] == "api.example.com"
    assert certificate["spec"]["issuerRef"]["name"] == "ca-issuer"

    await kube.patch(  # cert-manager's part: issue, then report Ready
        kinds.CERTIFICATE,
        namespace="shop",
        name="api",
        subresource="status",
        patch={
            "status": {
                "notAfter": "2026-05-30T12:00:00Z",
                "renewalTime": "2026-05-15T12:00:00Z",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Ready",
                        "message": "Certificate is up to date and has not expired",
                        "observedGeneration": 1,
                    }
                ],
            }
        },
    )
    mirrored = await reconcile_tls(kube, wanted, owner=api, previous_tls=None, now=NOW)
    assert actions(mirrored) == [("Certificate", "api", Action.UNCHANGED)]
    assert mirrored.report is not None
    assert (mirrored.report.status, mirrored.report.reason) == (Status.TRUE, "Ready")
    assert mirrored.report.tls["notAfter"] == "2026-05-30T12:00:00Z"

    # Back to self-signed: the Secret cert-manager wrote is taken over, the Certificate goes.
    await kube.create(
        kinds.SECRET,
        {
            "type": "kubernetes.io/tls",
            "metadata": {
                "name": "api-tls",
                "namespace": "shop",
                "annotations": {"cert-manager.io/certificate-name": "api"},
            },
            "data": {"tls.crt": "", "tls.key": ""},
        },
    )
    switched = await reconcile_tls(kube, spec(), owner=api, previous_tls=None, now=NOW)
    assert ("Certificate", "api", Action.DELETED) in actions(switched)
    assert ("Secret", "api-tls", Action.PATCHED) in actions(switched)
    assert await kube.get(kinds.CERTIFICATE, namespace="shop", name="api") is None
    (await serving_cert(kube, api)).verify_directly_issued_by(await namespace_ca(kube, "shop"))


async def test_turning_tls_off_deletes_the_serving_secret(kube: KubeClient) -> None:
    api = owner()
    issued = await reconcile_tls(kube, spec(), owner=api, previous_tls=None, now=NOW)
    assert issued.report is not None
    off = await reconcile_tls(
        kube, spec(TLSMode.DISABLED), owner=api, previous_tls=issued.report.tls, now=NOW
    )
    assert off.report is None
    assert actions(off) == [("Secret", "api-tls", Action.DELETED)]
    assert await kube.get(kinds.SECRET, namespace="shop", name="api-tls") is None
    assert await kube.get(kinds.SECRET, namespace="shop", name="gale-ca") is not None
