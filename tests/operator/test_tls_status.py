"""What TLSReady and status.tls say in each TLS mode, and how they merge into the status."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from gale_operator.core.conditions import Status
from gale_operator.core.naming import Owner
from gale_operator.core.pki import generate_ca, issue_serving_certificate
from gale_operator.core.tls_status import (
    CERT_MANAGER_MISSING,
    TLS_READY,
    TLSReport,
    cert_manager_missing,
    cert_manager_report,
    expiry_timestamp,
    needs_attention,
    self_signed_report,
    with_tls_status,
)

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
OWNER = Owner(name="api", namespace="shop", uid="uid-1")


def test_self_signed_reports_the_secret_expiry_and_renewal_time() -> None:
    ca = generate_ca("shop", now=NOW)
    cert = issue_serving_certificate(ca, dns_names=("api",), now=NOW, duration=90 * DAY).certificate

    def report(now: datetime.datetime) -> TLSReport:
        return self_signed_report(cert, owner=OWNER, now=now, renew_before=15 * DAY)

    valid = report(NOW + DAY)
    assert (valid.status, valid.reason, valid.degraded) == (Status.TRUE, "Issued", False)
    assert valid.tls == {
        "secretName": "api-tls",
        "notAfter": "2026-05-30T12:00:00Z",
        "renewalTime": "2026-05-15T12:00:00Z",
    }
    assert (report(NOW + 90 * DAY).status, report(NOW + 90 * DAY).reason) == (
        Status.FALSE,
        "Expired",
    )
    assert (report(NOW - DAY).status, report(NOW - DAY).reason) == (Status.FALSE, "NotYetValid")
    missing = self_signed_report(None, owner=OWNER, now=NOW, renew_before=15 * DAY)
    assert (missing.status, missing.tls) == (Status.FALSE, {})


def test_a_missing_cert_manager_crd_degrades_with_a_reason_that_says_so() -> None:
    report = cert_manager_missing()
    assert (report.status, report.reason, report.degraded) == (
        Status.FALSE,
        CERT_MANAGER_MISSING,
        True,
    )
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
        (None, Status.UNKNOWN, "CertificatePending"),
        ({"metadata": {"generation": 1}}, Status.UNKNOWN, "CertificatePending"),
        (
            _certificate(2, {"type": "Ready", "status": "True", "observedGeneration": 1}),
            Status.UNKNOWN,
            "CertificatePending",
        ),
        (
            _certificate(
                1,
                {"type": "Issuing", "status": "True", "reason": "Issuing"},
                {"type": "Ready", "status": "True", "reason": "Ready", "message": "up to date"},
            ),
            Status.TRUE,
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
            Status.FALSE,
            "DoesNotExist",
        ),
    ],
)
def test_cert_manager_ready_is_mirrored(
    certificate: dict[str, Any] | None, status: Status, reason: str
) -> None:
    report = cert_manager_report(certificate, owner=OWNER)
    assert (report.status, report.reason, report.degraded) == (status, reason, False)
    if status is not Status.UNKNOWN:
        assert report.message.startswith("cert-manager Certificate api: ")
        assert report.tls == {
            "secretName": "api-tls",
            "notAfter": "2026-05-30T12:00:00Z",
            "renewalTime": "2026-05-15T12:00:00Z",
        }


READY = {"type": "Ready", "status": "True", "reason": "Done", "lastTransitionTime": "x"}


def test_tls_status_is_set_beside_the_other_conditions() -> None:
    report = TLSReport(Status.TRUE, "Issued", "fine", {"secretName": "api-tls", "notAfter": "t"})
    previous = {"tls": {"secretName": "api-tls", "renewalTime": "old"}}
    status = with_tls_status(
        {"conditions": [READY]}, report, previous=previous, generation=3, now=NOW
    )
    assert [c["type"] for c in status["conditions"]] == ["Ready", TLS_READY]
    tls_ready = status["conditions"][1]
    assert (tls_ready["status"], tls_ready["reason"], tls_ready["observedGeneration"]) == (
        "True",
        "Issued",
        3,
    )
    assert status["tls"] == {"secretName": "api-tls", "notAfter": "t", "renewalTime": None}


def test_turning_tls_off_removes_its_condition_and_status_once() -> None:
    tls_ready = {**READY, "type": TLS_READY}
    status = with_tls_status(
        {"conditions": [READY, tls_ready]},
        None,
        previous={"tls": {"secretName": "api-tls"}},
        generation=1,
        now=NOW,
    )
    assert status == {"conditions": [READY], "tls": None}
    again = with_tls_status({"conditions": [READY]}, None, previous={}, generation=1, now=NOW)
    assert again == {"conditions": [READY]}


def _with(tls_ready: str | None, renewal_time: str | None) -> dict[str, Any]:
    conditions = [{"type": TLS_READY, "status": tls_ready}] if tls_ready else []
    tls = {"renewalTime": renewal_time, "notAfter": "2026-05-30T12:00:00Z"} if renewal_time else {}
    return {"conditions": conditions, "tls": tls}


@pytest.mark.parametrize(
    ("status", "due"),
    [
        (_with(None, None), True),
        (_with("False", "2026-05-15T12:00:00Z"), True),
        (_with("Unknown", None), True),
        (_with("True", "2026-05-15T12:00:00Z"), False),
        (_with("True", "2026-03-01T12:00:00Z"), True),
        (_with("True", "not a time"), False),
        (_with("True", None), False),
    ],
)
def test_the_timer_wakes_the_reconcile_when_renewal_is_due_or_tls_is_not_ready(
    status: dict[str, Any], due: bool
) -> None:
    assert needs_attention(status, now=NOW) is due


def test_the_expiry_gauge_reads_not_after_in_unix_seconds() -> None:
    status = _with("True", "2026-05-15T12:00:00Z")
    expected = datetime.datetime(2026, 5, 30, 12, tzinfo=datetime.UTC).timestamp()
    assert expiry_timestamp(status) == expected
    assert expiry_timestamp({}) is None
