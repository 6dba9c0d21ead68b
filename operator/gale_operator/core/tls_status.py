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

from .conditions import Condition, Status, upsert
from .kinds import CERTIFICATE
from .naming import Owner
from .tls import format_time, renewal_time

TLS_READY = "TLSReady"
CERT_MANAGER_MISSING = "CertManagerNotInstalled"


@dataclasses.dataclass(frozen=True)
class TLSReport:
    """The TLSReady condition, ``status.tls``, and whether the Microservice is Degraded by it."""

    status: Status
    reason: str
    message: str
    tls: dict[str, str] = dataclasses.field(default_factory=dict)
    degraded: bool = False

    @property
    def condition(self) -> Condition:
        return Condition(TLS_READY, self.status, self.reason, self.message)


def self_signed_report(
    cert: x509.Certificate | None,
    *,
    owner: Owner,
    now: datetime.datetime,
    renew_before: datetime.timedelta,
) -> TLSReport:
    """Report on the serving certificate the operator issued (and stored) itself."""
    secret = owner.tls_secret_name
    if cert is None:
        return TLSReport(Status.FALSE, "Issuing", f"no serving certificate in Secret {secret} yet")
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
        message = f"the certificate in {secret} expired at {tls['notAfter']}"
        return TLSReport(Status.FALSE, "Expired", message, tls)
    if now < cert.not_valid_before_utc:
        message = f"{secret} holds a certificate not valid before {cert.not_valid_before_utc}"
        return TLSReport(Status.FALSE, "NotYetValid", message, tls)
    return TLSReport(
        Status.TRUE,
        "Issued",
        f"self-signed certificate in {secret} valid until {tls['notAfter']}, "
        f"renewed from {tls['renewalTime']}",
        tls,
    )


def cert_manager_missing() -> TLSReport:
    """certManager mode in a cluster without cert-manager: nothing will ever issue."""
    return TLSReport(
        Status.FALSE,
        CERT_MANAGER_MISSING,
        f"spec.tls.mode is certManager but the CRD {CERTIFICATE.plural}.{CERTIFICATE.group} "
        "is not installed: install cert-manager or use tls.mode selfSigned",
        degraded=True,
    )


def cert_manager_report(certificate: Mapping[str, Any] | None, *, owner: Owner) -> TLSReport:
    """Mirror a cert-manager ``Certificate``'s Ready condition into TLSReady.

    A Ready condition older than the Certificate's current generation describes a spec we
    have since changed, so it is reported as Unknown rather than trusted.
    """
    name = owner.name
    if certificate is None:
        return TLSReport(Status.UNKNOWN, "CertificatePending", f"Certificate {name} not created")
    status = certificate.get("status") or {}
    tls = {"secretName": owner.tls_secret_name}
    for field in ("notAfter", "renewalTime"):
        if status.get(field):
            tls[field] = str(status[field])
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    generation = (certificate.get("metadata") or {}).get("generation")
    if ready is None or (
        generation is not None and ready.get("observedGeneration", generation) < generation
    ):
        message = f"cert-manager has not reported on Certificate {name} yet"
        return TLSReport(Status.UNKNOWN, "CertificatePending", message, tls)
    mirrored = {"True": Status.TRUE, "False": Status.FALSE}.get(ready.get("status"), Status.UNKNOWN)
    detail = ready.get("message") or "no message"
    return TLSReport(
        mirrored,
        str(ready.get("reason") or "CertificateReady"),
        f"cert-manager Certificate {name}: {detail}",
        tls,
    )


def with_tls_status(
    status: Mapping[str, Any],
    report: TLSReport | None,
    *,
    previous: Mapping[str, Any],
    generation: int,
    now: datetime.datetime,
) -> dict[str, Any]:
    """``status`` with TLSReady and ``status.tls`` set, or both removed when TLS is off.

    A ``None`` (a merge-patch deletion) is written only for what the stored status still
    has, so fields from an earlier mode disappear and later passes cost no write.
    """
    result = dict(status)
    current = result.get("conditions") or []
    if report is None:
        result["conditions"] = [c for c in current if c.get("type") != TLS_READY]
        if "tls" in previous:
            result["tls"] = None
        return result
    result["conditions"] = upsert(current, report.condition, generation=generation, now=now)
    stale = {key: None for key in previous.get("tls") or {} if key not in report.tls}
    result["tls"] = {**stale, **report.tls}
    return result


def needs_attention(status: Mapping[str, Any], *, now: datetime.datetime) -> bool:
    """Whether TLS should be reconciled now rather than at the next tick.

    Due when the renewal time has come, or while TLSReady is not True (an issuance pending
    in cert-manager, or a problem that may have been fixed).
    """
    ready = next((c for c in status.get("conditions") or () if c.get("type") == TLS_READY), None)
    if ready is None or ready.get("status") != Status.TRUE:
        return True
    renewal = renewal_at(status)
    return renewal is not None and now >= renewal


def renewal_at(status: Mapping[str, Any]) -> datetime.datetime | None:
    """``status.tls.renewalTime``, if there is a readable one."""
    return _timestamp((status.get("tls") or {}).get("renewalTime"))


def expiry_timestamp(status: Mapping[str, Any]) -> float | None:
    """``status.tls.notAfter`` in unix seconds, for the certificate expiry gauge."""
    not_after = _timestamp((status.get("tls") or {}).get("notAfter"))
    return not_after.timestamp() if not_after is not None else None


def _timestamp(value: Any) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
