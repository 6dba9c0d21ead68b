"""What TLSReady and status.tls say in each TLS mode."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from gale_operator.core.pki import generate_ca, issue_serving_certificate
from gale_operator.core.tls_status import (
    CERT_MANAGER_MISSING,
    cert_manager_report,
    self_signed_report,
)

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def test_self_signed_reports_the_secret_expiry_and_renewal_time() -> None:
    ca = generate_ca("shop", now=NOW)
    cert = issue_serving_certificate(ca, dns_names=("api",), now=NOW, duration=90 * DAY).certificate
    report = self_signed_report("api", cert, now=NOW + DAY, renew_before=15 * DAY)
    assert (report.status, report.reason, report.degraded) == ("True", "Issued", False)
    assert report.tls == {
        "secretName": "api-tls",
        "notAfter": "2026-05-30T12:00:00Z",
        "renewalTime": "2026-05-15T12:00:00Z",
    }
    expired = self_signed_report("api", cert, now=NOW + 90 * DAY, renew_before=15 * DAY)
    assert (expired.status, expired.reason) == ("False", "Expired")
    early = self_signed_report("api", cert, now=NOW - DAY, renew_before=15 * DAY)
    assert (early.status, early.reason) == ("False", "NotYetValid")
    missing = self_signed_report("api", None, now=NOW, renew_before=15 * DAY)
    assert (missing.status, missing.tls) == ("False", {})


def test_a_missing_cert_manager_crd_degrades_with_a_reason_that_says_so() -> None:
    report = cert_manager_report("api", None, crd_installed=False)
    assert (report.status, report.reason, report.degraded) == ("False", CERT_MANAGER_MISSING, True)
    assert "certificates.cert-manager.io" in report.message
    assert "not installed" in report.message


def _certificate(generation: int, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "api", "generation": generation},
        "status": {
            "conditions": list(conditions),
            "notAfter": "2026-05-30T12:00:00Z",
            "renewalTime": "2026-05-15T12:00:00Z",
        },
    }


@pytest.mark.parametrize(
    ("certificate", "status", "reason"),
    [
        (None, "Unknown", "CertificatePending"),
        ({"metadata": {"generation": 1}}, "Unknown", "CertificatePending"),
        (
            _certificate(2, {"type": "Ready", "status": "True", "observedGeneration": 1}),
            "Unknown",
            "CertificatePending",
        ),
        (
            _certificate(
                1,
                {"type": "Issuing", "status": "True", "reason": "Issuing"},
                {"type": "Ready", "status": "True", "reason": "Ready", "message": "up to date"},
            ),
            "True",
            "Ready",
        ),
        (
            _certificate(
                1,
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "DoesNotExist",
                    "message": "Issuing certificate as Secret does not exist",
                    "observedGeneration": 1,
                },
            ),
            "False",
            "DoesNotExist",
        ),
    ],
)
def test_cert_manager_ready_is_mirrored(
    certificate: dict[str, Any] | None, status: str, reason: str
) -> None:
    report = cert_manager_report("api", certificate, crd_installed=True)
    assert (report.status, report.reason, report.degraded) == (status, reason, False)
    if status != "Unknown":
        assert report.message.startswith("cert-manager Certificate api: ")
        assert report.tls == {
            "secretName": "api-tls",
            "notAfter": "2026-05-30T12:00:00Z",
            "renewalTime": "2026-05-15T12:00:00Z",
        }
