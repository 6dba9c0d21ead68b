"""The pure TLS decisions: durations, SANs, issuance, CA reuse and renewal with a fixed clock."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from gale_operator.core import tls
from gale_operator.core.durations import parse_duration
from gale_operator.core.naming import Owner, service_dns_names
from gale_operator.core.pki import (
    CertificateAuthority,
    certificate_dns_names,
    generate_ca,
    issue_serving_certificate,
)
from gale_operator.core.spec import TLS, IssuerRef, SpecError, TLSMode

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
NINETY_DAYS = 90 * DAY
FIFTEEN_DAYS = 15 * DAY


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return generate_ca("shop", now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2160h", NINETY_DAYS),
        ("360h", FIFTEEN_DAYS),
        ("1h30m", datetime.timedelta(minutes=90)),
        ("1.5h", datetime.timedelta(minutes=90)),
        ("2h45m30.5s", datetime.timedelta(hours=2, minutes=45, seconds=30.5)),
        ("90s", datetime.timedelta(seconds=90)),
        ("300ms", datetime.timedelta(milliseconds=300)),
        ("1500us", datetime.timedelta(microseconds=1500)),
        ("7µs", datetime.timedelta(microseconds=7)),
        ("0", datetime.timedelta(0)),
        (".5h", datetime.timedelta(minutes=30)),
    ],
)
def test_go_durations_parse(text: str, expected: datetime.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "10", "10d", "-5h", "1h 30m", "2160H", "abc", "1h-"])
def test_malformed_durations_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="expected Go form like '2160h'"):
        parse_duration(text)


def test_sans_are_the_service_names_then_the_extra_names_without_repeats() -> None:
    names = tls.serving_dns_names("api", "shop", ["api.example.com", "api.shop.svc", "x.test"])
    assert names == (
        "api",
        "api.shop",
        "api.shop.svc",
        "api.shop.svc.cluster.local",
        "api.example.com",
        "x.test",
    )


def test_the_ca_is_a_self_signed_certificate_authority(ca: CertificateAuthority) -> None:
    cert = ca.certificate
    assert cert.subject == cert.issuer
    assert "gale-ca.shop" in cert.subject.rfc4514_string()
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(cert)
    assert cert.not_valid_after_utc - NOW > datetime.timedelta(days=3600)


def test_a_serving_certificate_verifies_for_every_san_against_the_ca(
    ca: CertificateAuthority,
) -> None:
    names = tls.serving_dns_names("api", "shop", ["api.example.com"])
    issued = issue_serving_certificate(ca, dns_names=names, now=NOW, duration=NINETY_DAYS)
    cert = issued.certificate
    assert certificate_dns_names(cert) == names
    assert issued.ca_pem == ca.cert_pem
    assert cert.not_valid_after_utc == NOW + NINETY_DAYS
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    store = Store([ca.certificate])
    for name in names:
        verifier = (
            PolicyBuilder().store(store).time(NOW + DAY).build_server_verifier(x509.DNSName(name))
        )
        verifier.verify(cert, [])
    stranger = PolicyBuilder().store(store).time(NOW + DAY)
    with pytest.raises(VerificationError):
        stranger.build_server_verifier(x509.DNSName("other.shop.svc")).verify(cert, [])


def test_a_name_too_long_for_a_common_name_is_served_from_the_sans_alone(
    ca: CertificateAuthority,
) -> None:
    long_name = "a" * 63 + ".shop.svc"
    cert = issue_serving_certificate(
        ca, dns_names=(long_name,), now=NOW, duration=NINETY_DAYS
    ).certificate
    assert list(cert.subject) == []
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    verifier = PolicyBuilder().store(Store([ca.certificate])).time(NOW + DAY)
    verifier.build_server_verifier(x509.DNSName(long_name)).verify(cert, [])


def test_issuing_without_names_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="at least one DNS name"):
        issue_serving_certificate(ca, dns_names=(), now=NOW, duration=NINETY_DAYS)


def test_the_stored_ca_is_reused_until_it_expires(ca: CertificateAuthority) -> None:
    data = tls.ca_secret_data(ca)
    assert tls.load_authority(data, now=NOW + 365 * DAY) == ca
    assert tls.load_authority(data, now=NOW + 3651 * DAY) is None
    near_its_end = NOW + 3600 * DAY
    assert tls.load_authority(data, now=near_its_end) == ca
    assert tls.load_authority(data, now=near_its_end, outlive=NINETY_DAYS) is None, (
        "a CA that cannot cover a full serving certificate is replaced"
    )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"tls.crt": "not base64!"},
        {"tls.crt": _b64(b"junk"), "tls.key": _b64(b"junk")},
    ],
)
def test_an_unusable_stored_ca_is_regenerated(data: dict[str, str] | None) -> None:
    assert tls.load_authority(data, now=NOW) is None


def test_a_ca_whose_key_does_not_match_is_regenerated(ca: CertificateAuthority) -> None:
    other = generate_ca("shop", now=NOW)
    data = {"tls.crt": _b64(ca.cert_pem), "tls.key": _b64(other.key_pem)}
    assert tls.load_authority(data, now=NOW) is None


def test_renewal_is_due_renew_before_ahead_of_expiry() -> None:
    due = tls.renewal_time(not_before=NOW, not_after=NOW + NINETY_DAYS, renew_before=FIFTEEN_DAYS)
    assert due == NOW + 75 * DAY


def test_a_renew_before_as_long_as_the_lifetime_renews_at_two_thirds() -> None:
    due = tls.renewal_time(not_before=NOW, not_after=NOW + 90 * DAY, renew_before=90 * DAY)
    assert due == NOW + 60 * DAY


NAMES = tls.serving_dns_names("api", "shop")


def _renewal(
    data: dict[str, str] | None,
    ca: CertificateAuthority,
    *,
    now: datetime.datetime = NOW,
    names: tuple[str, ...] = NAMES,
) -> tls.Renewal:
    return tls.serving_renewal(data, ca=ca, dns_names=names, now=now, renew_before=FIFTEEN_DAYS)


def test_a_fresh_certificate_is_kept_until_its_renewal_time(ca: CertificateAuthority) -> None:
    issued = issue_serving_certificate(ca, dns_names=NAMES, now=NOW, duration=NINETY_DAYS)
    data = tls.serving_secret_data(issued)
    renewal_due = NOW + 75 * DAY
    kept = _renewal(data, ca, now=renewal_due - datetime.timedelta(seconds=1))
    assert (kept.needed, kept.reason) == (False, "Valid")
    renewed = _renewal(data, ca, now=renewal_due)
    assert (renewed.needed, renewed.reason) == (True, "Renewing")
    assert "2026-05-15T12:00:00Z" in renewed.message


def test_why_a_certificate_must_be_reissued(ca: CertificateAuthority) -> None:
    issued = issue_serving_certificate(ca, dns_names=NAMES, now=NOW, duration=NINETY_DAYS)
    other = issue_serving_certificate(ca, dns_names=NAMES, now=NOW, duration=NINETY_DAYS)
    good = tls.serving_secret_data(issued)
    cases: dict[str, list[dict[str, str] | None]] = {
        "Missing": [None, {}, {"tls.key": good["tls.key"]}, {"tls.crt": _b64(b"x")}],
        "Unreadable": [{**good, "tls.key": _b64(b"garbage")}],
        "KeyMismatch": [{**good, "tls.key": tls.serving_secret_data(other)["tls.key"]}],
    }
    for reason, variants in cases.items():
        for data in variants:
            assert (_renewal(data, ca).needed, _renewal(data, ca).reason) == (True, reason)
    new_ca = generate_ca("shop", now=NOW)
    assert _renewal(good, new_ca).reason == "IssuerChanged"
    more_names = (*NAMES, "api.example.com")
    changed = _renewal(good, ca, names=more_names)
    assert (changed.needed, changed.reason) == (True, "DNSNamesChanged")
    assert "api.example.com" in changed.message


OWNER = Owner(name="api", namespace="shop", uid="uid-1")


def test_secrets_carry_the_keys_pods_and_cert_manager_agree_on(ca: CertificateAuthority) -> None:
    issued = issue_serving_certificate(ca, dns_names=NAMES, now=NOW, duration=NINETY_DAYS)
    secret = tls.desired_serving_secret(issued, owner=OWNER)
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["name"] == "api-tls"
    assert [ref["uid"] for ref in secret["metadata"]["ownerReferences"]] == ["uid-1"]
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert base64.b64decode(secret["data"]["ca.crt"]) == ca.cert_pem
    assert tls.stored_certificate(secret["data"]) == issued.certificate


def test_the_ca_secret_is_shared_so_no_microservice_owns_it(ca: CertificateAuthority) -> None:
    secret = tls.desired_ca_secret(ca, namespace="shop")
    assert secret["metadata"]["name"] == "gale-ca"
    assert "ownerReferences" not in secret["metadata"]
    assert tls.load_authority(secret["data"], now=NOW) == ca


def test_the_cert_manager_certificate_asks_for_the_same_secret_and_names() -> None:
    spec = TLS(
        mode=TLSMode.CERT_MANAGER,
        issuer_ref=IssuerRef(name="letsencrypt", kind="ClusterIssuer"),
        dns_names=("api.example.com",),
        duration="720h",
        renew_before="240h",
    )
    certificate = tls.desired_certificate(spec, owner=OWNER)
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    assert certificate["kind"] == "Certificate"
    assert certificate["metadata"]["name"] == "api"
    assert [ref["uid"] for ref in certificate["metadata"]["ownerReferences"]] == ["uid-1"]
    body = certificate["spec"]
    assert body["secretName"] == "api-tls"
    assert body["dnsNames"] == [*service_dns_names("api", "shop"), "api.example.com"]
    assert body["issuerRef"] == {
        "name": "letsencrypt",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }
    assert (body["duration"], body["renewBefore"]) == ("720h", "240h")
    assert body["privateKey"]["rotationPolicy"] == "Always"
    assert "commonName" not in body


def test_a_cert_manager_mode_without_issuer_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="issuerRef"):
        tls.desired_certificate(TLS(mode=TLSMode.CERT_MANAGER), owner=OWNER)


def test_spec_durations_are_parsed_or_refused_naming_the_field() -> None:
    assert tls.durations(TLS()) == (NINETY_DAYS, FIFTEEN_DAYS)
    with pytest.raises(SpecError, match=r"spec\.tls: invalid duration '5d'"):
        tls.durations(TLS(duration="5d"))
