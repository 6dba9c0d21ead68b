"""The self-signed PKI: a CA per namespace and the serving certificates it signs.

Keys are ECDSA P-256: generating one inside a handler takes microseconds (RSA takes tens of
milliseconds), and every TLS client in a cluster (Go, Python, Envoy, browsers) accepts them.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = datetime.timedelta(days=3650)
# Certificates start a little in the past so a node whose clock lags still accepts them.
BACKDATE = datetime.timedelta(minutes=5)
MAX_COMMON_NAME = 64


@dataclasses.dataclass(frozen=True)
class CertificateAuthority:
    """A namespace's CA as the ``gale-ca`` Secret stores it (PEM)."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key is not an elliptic-curve key")
        return key


@dataclasses.dataclass(frozen=True)
class ServingCertificate:
    """A serving certificate, its key and the CA that signed it (PEM), as its Secret stores them."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def generate_ca(namespace: str, *, now: datetime.datetime) -> CertificateAuthority:
    """A fresh CA for ``namespace``, valid for ten years from ``now``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gale"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"gale-ca.{namespace}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert.public_bytes(serialization.Encoding.PEM), _pem(key))


def issue_serving_certificate(
    ca: CertificateAuthority,
    *,
    dns_names: Sequence[str],
    now: datetime.datetime,
    duration: datetime.timedelta,
) -> ServingCertificate:
    """A new key and a server certificate for ``dns_names`` signed by ``ca``.

    The first name becomes the subject's CN (when short enough) for tools that still display
    it; clients verify against the SANs only. The validity never outlives the CA's own.
    """
    if not dns_names:
        raise ValueError("a serving certificate needs at least one DNS name")
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, ca_key = ca.certificate, ca.private_key
    # X.509 caps a CN at 64 characters; longer names live in the SANs only, which RFC 5280
    # then requires to be critical because the subject is empty.
    named = len(dns_names[0]) <= MAX_COMMON_NAME
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])] if named else []
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + duration, ca_cert.not_valid_after_utc))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]),
            critical=not named,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ServingCertificate(cert.public_bytes(serialization.Encoding.PEM), _pem(key), ca.cert_pem)


def certificate_dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The DNS SANs of ``cert`` in the order they were issued."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(sans.get_values_for_type(x509.DNSName))


def signed_by(cert: x509.Certificate, ca: CertificateAuthority) -> bool:
    """Whether ``ca`` issued ``cert`` (same subject and a valid signature from its key)."""
    try:
        cert.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
