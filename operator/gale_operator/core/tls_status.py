"""What ``status.tls`` and the ``TLSReady`` condition say, in either TLS mode.

TLSReady must tell the truth: True only while the pods can be served a valid certificate.
In self-signed mode that is read from the certificate itself; in cert-manager mode it is
cert-manager's own Ready condition, mirrored, because only cert-manager knows whether its
issuer worked.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from cryptography import x509

from .kinds import CERTIFICATE
from .tls import (
    ConditionStatus,
    format_time,
    renewal_time,
    serving_secret_name,
)

CERT_MANAGER_MISSING = "CertManagerNotInstalled"


@dataclasses.dataclass(frozen=True)
class TLSReport:
    """The TLSReady condition, ``status.tls``, and whether the Microservice is Degraded by it."""

    status: ConditionStatus
    reason: str
    message: str
    tls: dict[str, str] = dataclasses.field(default_factory=dict)
    degraded: bool = False


def self_signed_report(
    name: str,
    cert: x509.Certificate | None,
    *,
    now: datetime.datetime,
    renew_before: datetime.timedelta,
) -> TLSReport:
    """Report on the serving certificate the operator issued (and just stored) itself."""
    secret = serving_secret_name(name)
    if cert is None:
        return TLSReport("False", "Issuing", f"no serving certificate in Secret {secret} yet")
    not_after = cert.not_valid_after_utc
    due = renewal_time(
        not_before=cert.not_valid_before_utc, not_after=not_after, renew_before=renew_before
    )
    tls = {
        "secretName": secret,
        "notAfter": format_time(not_after),
        "renewalTime": format_time(due),
    }
    if now >= not_after:
        return TLSReport(
            "False", "Expired", f"the certificate in {secret} expired at {tls['notAfter']}", tls
        )
    if now < cert.not_valid_before_utc:
        return TLSReport(
            "False", "NotYetValid", f"the certificate in {secret} is not valid yet", tls
        )
    return TLSReport(
        "True",
        "Issued",
        f"self-signed certificate in {secret} valid until {tls['notAfter']}, "
        f"renewed from {tls['renewalTime']}",
        tls,
    )


def cert_manager_report(
    name: str, certificate: Mapping[str, Any] | None, *, crd_installed: bool
) -> TLSReport:
    """Mirror a cert-manager ``Certificate``'s Ready condition into TLSReady.

    A Ready condition older than the Certificate's current generation describes a spec we
    have since changed, so it is reported as Unknown rather than trusted.
    """
    if not crd_installed:
        return TLSReport(
            "False",
            CERT_MANAGER_MISSING,
            f"spec.tls.mode is certManager but the CRD {CERTIFICATE.plural}.{CERTIFICATE.group} "
            "is not installed: install cert-manager or use tls.mode selfSigned",
            degraded=True,
        )
    if certificate is None:
        return TLSReport("Unknown", "CertificatePending", f"Certificate {name} not created yet")
    status = certificate.get("status") or {}
    tls = {"secretName": serving_secret_name(name)}
    for field in ("notAfter", "renewalTime"):
        if status.get(field):
            tls[field] = str(status[field])
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    generation = (certificate.get("metadata") or {}).get("generation")
    if ready is None or (
        generation is not None and ready.get("observedGeneration", generation) < generation
    ):
        return TLSReport(
            "Unknown",
            "CertificatePending",
            f"cert-manager has not reported on Certificate {name} yet",
            tls,
        )
    mirrored: ConditionStatus = (
        ready.get("status") if ready.get("status") in ("True", "False") else "Unknown"
    )
    detail = ready.get("message") or "no message"
    return TLSReport(
        mirrored,
        str(ready.get("reason") or "CertificateReady"),
        f"cert-manager Certificate {name}: {detail}",
        tls,
    )
