"""TLS decisions for a ``Microservice``: which certificate it needs, when to renew, what to report.

Everything here is pure: the clock is an argument and no API is touched, so every decision
(reuse or regenerate the CA, issue, renew, what TLSReady says) is a table test, and the kopf
layer only fetches, calls and applies.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .durations import parse_duration
from .kinds import CERTIFICATE, SECRET
from .naming import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PART_OF,
    PART_OF_LABEL,
    Owner,
    service_dns_names,
)
from .pki import CertificateAuthority, ServingCertificate, certificate_dns_names, signed_by
from .spec import TLS, SpecError

CA_SECRET_NAME = "gale-ca"  # noqa: S105 - a Secret's name, not a secret


def serving_dns_names(name: str, namespace: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The serving certificate's SANs: the Service's names, then ``spec.tls.dnsNames``."""
    return tuple(dict.fromkeys([*service_dns_names(name, namespace), *extra]))


def renewal_time(
    *,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    renew_before: datetime.timedelta,
) -> datetime.datetime:
    """When a certificate is replaced: ``renewBefore`` ahead of its expiry.

    A ``renewBefore`` as long as the whole lifetime would renew in a loop; like cert-manager,
    renew at two thirds of the lifetime then.
    """
    lifetime = not_after - not_before
    if renew_before >= lifetime:
        return not_before + lifetime * 2 / 3
    return not_after - renew_before


def load_authority(
    data: Mapping[str, str] | None,
    *,
    now: datetime.datetime,
    outlive: datetime.timedelta = datetime.timedelta(0),
) -> CertificateAuthority | None:
    """The CA in a ``gale-ca`` Secret's ``data``, or None when it must be (re)generated.

    A CA that cannot be read, whose key does not match, or that expires within ``outlive``
    (the serving certificates' duration) is replaced rather than reported: the operator owns
    it, certificates are capped at their CA's expiry, and a CA near its end would otherwise
    mint ever shorter ones. The serving certificates it signed are re-issued because their
    issuer changed.
    """
    if not data:
        return None
    try:
        ca = CertificateAuthority(_decode(data["tls.crt"]), _decode(data["tls.key"]))
        cert, key = ca.certificate, ca.private_key
    except (KeyError, ValueError):
        return None
    if cert.public_key() != key.public_key() or cert.not_valid_after_utc <= now + outlive:
        return None
    return ca


@dataclasses.dataclass(frozen=True)
class Renewal:
    """Whether the serving certificate must be (re)issued; ``reason`` is CamelCase."""

    needed: bool
    reason: str
    message: str


def serving_renewal(
    data: Mapping[str, str] | None,
    *,
    ca: CertificateAuthority,
    dns_names: Sequence[str],
    now: datetime.datetime,
    renew_before: datetime.timedelta,
) -> Renewal:
    """Decide whether the serving Secret's certificate still fits this CA, spec and moment."""
    cert = stored_certificate(data)
    if cert is None or not data or "tls.key" not in data:
        return Renewal(True, "Missing", "no readable serving certificate yet")
    try:
        key = serialization.load_pem_private_key(_decode(data["tls.key"]), password=None)
    except ValueError:
        return Renewal(True, "Unreadable", "the stored private key cannot be read")
    if cert.public_key() != key.public_key():
        return Renewal(True, "KeyMismatch", "the stored key does not match the certificate")
    if not signed_by(cert, ca):
        return Renewal(True, "IssuerChanged", "the certificate was not signed by the current CA")
    if certificate_dns_names(cert) != tuple(dns_names):
        return Renewal(True, "DNSNamesChanged", f"the DNS names are now {', '.join(dns_names)}")
    due = renewal_time(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        renew_before=renew_before,
    )
    if now >= due:
        return Renewal(True, "Renewing", f"renewal was due at {format_time(due)}")
    return Renewal(False, "Valid", f"valid until {format_time(cert.not_valid_after_utc)}")


def stored_certificate(data: Mapping[str, str] | None) -> x509.Certificate | None:
    """The certificate in a TLS Secret's ``data``, or None when absent or unreadable."""
    if not data or "tls.crt" not in data:
        return None
    try:
        return x509.load_pem_x509_certificate(_decode(data["tls.crt"]))
    except ValueError:
        return None


def ca_secret_data(ca: CertificateAuthority) -> dict[str, str]:
    """The ``data`` of the ``gale-ca`` Secret (type kubernetes.io/tls)."""
    return {"tls.crt": _encode(ca.cert_pem), "tls.key": _encode(ca.key_pem)}


def serving_secret_data(issued: ServingCertificate) -> dict[str, str]:
    """The ``data`` of ``{name}-tls``: the same keys cert-manager writes, so pods see no mode."""
    return {
        "tls.crt": _encode(issued.cert_pem),
        "tls.key": _encode(issued.key_pem),
        "ca.crt": _encode(issued.ca_pem),
    }


def desired_ca_secret(ca: CertificateAuthority, *, namespace: str) -> dict[str, Any]:
    """The namespace's ``gale-ca`` Secret.

    It has no owner: every Microservice in the namespace shares it, and deleting one of them
    must not rotate the trust anchor of the others.
    """
    return _tls_secret(
        {
            "name": CA_SECRET_NAME,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, PART_OF_LABEL: PART_OF},
        },
        ca_secret_data(ca),
    )


def desired_serving_secret(issued: ServingCertificate, *, owner: Owner) -> dict[str, Any]:
    """``{name}-tls``, owned by the Microservice so it goes when the Microservice goes."""
    return _tls_secret(owner.metadata(owner.tls_secret_name), serving_secret_data(issued))


def _tls_secret(metadata: dict[str, Any], data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": SECRET.api_version,
        "kind": SECRET.kind,
        "type": "kubernetes.io/tls",
        "metadata": metadata,
        "data": dict(data),
    }


def desired_certificate(tls: TLS, *, owner: Owner) -> dict[str, Any]:
    """The cert-manager ``Certificate`` that writes ``{name}-tls`` in certManager mode.

    The key is rotated on every renewal (``rotationPolicy: Always``) and is ECDSA P-256 like
    the self-signed path, so both modes hand the pod the same kind of material. No
    ``commonName``: clients verify SANs only, and a CN adds a 64-character limit issuers
    enforce.
    """
    if tls.issuer_ref is None:
        raise SpecError("spec.tls.mode certManager needs spec.tls.issuerRef")
    dns_names = serving_dns_names(owner.name, owner.namespace, tls.dns_names)
    return {
        "apiVersion": CERTIFICATE.api_version,
        "kind": CERTIFICATE.kind,
        "metadata": owner.metadata(),
        "spec": {
            "secretName": owner.tls_secret_name,
            "secretTemplate": {"labels": owner.labels},
            "dnsNames": list(dns_names),
            "duration": tls.duration,
            "renewBefore": tls.renew_before,
            "issuerRef": {
                "name": tls.issuer_ref.name,
                "kind": tls.issuer_ref.kind,
                "group": tls.issuer_ref.group,
            },
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["server auth", "digital signature"],
        },
    }


def durations(tls: TLS) -> tuple[datetime.timedelta, datetime.timedelta]:
    """``spec.tls`` duration and renewBefore as time spans, or SpecError naming the field."""
    try:
        return parse_duration(tls.duration), parse_duration(tls.renew_before)
    except ValueError as error:
        raise SpecError(f"spec.tls: {error}") from error


def format_time(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as Kubernetes writes timestamps."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise ValueError(f"not base64: {error}") from error


def _encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
