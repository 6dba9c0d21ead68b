"""HTTPS with hot reload: real TLS connections on loopback while the mounted Secret rotates.

The files are laid out the way the kubelet writes a Secret volume (a timestamped directory,
a ``..data`` symlink swapped atomically, and ``tls.crt``/``tls.key`` links through it), so
the test exercises the same path resolution a pod sees.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import tornado.web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from gale_operator.core.pki import (
    CertificateAuthority,
    ServingCertificate,
    generate_ca,
    issue_serving_certificate,
)
from gale_service.tls import ReloadingTLS, TLSMaterialError
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

NAME = "api.shop.svc"
NOW = datetime.datetime.now(datetime.UTC)
POLL = 0.02


class SecretVolume:
    """A directory updated like the kubelet updates a mounted Secret."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generation = 0
        root.mkdir()
        for key in ("tls.crt", "tls.key"):
            (root / key).symlink_to(f"..data/{key}")

    def write(self, cert_pem: bytes, key_pem: bytes) -> None:
        self.generation += 1
        fresh = self.root / f"..2026_01_01_00_00_0{self.generation}"
        fresh.mkdir()
        (fresh / "tls.crt").write_bytes(cert_pem)
        (fresh / "tls.key").write_bytes(key_pem)
        data, staged = self.root / "..data", self.root / "..data_tmp"
        previous = data.resolve() if data.is_symlink() else None
        staged.symlink_to(fresh.name)
        os.replace(staged, data)
        if previous is not None:
            for file in previous.iterdir():
                file.unlink()
            previous.rmdir()

    @property
    def cert_file(self) -> str:
        return str(self.root / "tls.crt")

    @property
    def key_file(self) -> str:
        return str(self.root / "tls.key")


class Who(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("hello")


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return generate_ca("shop", now=NOW)


def _issue(ca: CertificateAuthority) -> ServingCertificate:
    return issue_serving_certificate(
        ca, dns_names=(NAME,), now=NOW, duration=datetime.timedelta(days=1)
    )


@pytest.fixture
def volume(tmp_path: Path, ca: CertificateAuthority) -> SecretVolume:
    secret = SecretVolume(tmp_path / "tls")
    issued = _issue(ca)
    secret.write(issued.cert_pem, issued.key_pem)
    return secret


@pytest.fixture
async def served(volume: SecretVolume) -> AsyncIterator[tuple[ReloadingTLS, int]]:
    """The service's TLS context behind a real Tornado HTTPServer on a free loopback port."""
    reloading = ReloadingTLS(volume.cert_file, volume.key_file, poll_interval=POLL)
    server = HTTPServer(tornado.web.Application([("/who", Who)]), ssl_options=reloading.context)
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    reloading.start()
    yield reloading, sockets[0].getsockname()[1]
    await reloading.stop()
    server.stop()
    await server.close_all_connections()


def _client(ca: CertificateAuthority, **versions: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    for attribute, version in versions.items():
        setattr(context, attribute, version)
    return context


class Connection:
    """One keep-alive HTTPS connection that remembers the certificate it was shown."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        ssl_object = writer.get_extra_info("ssl_object")
        self.peer = x509.load_der_x509_certificate(ssl_object.getpeercert(binary_form=True))
        self.version = ssl_object.version()

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext) -> Connection:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname=NAME
        )
        return cls(reader, writer)

    async def get(self) -> tuple[int, bytes]:
        self.writer.write(b"GET /who HTTP/1.1\r\nHost: " + NAME.encode() + b"\r\n\r\n")
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if line)
        body = await self.reader.readexactly(int(headers["Content-Length"]))
        return int(lines[0].split()[1]), body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _until_reloaded(reloading: ReloadingTLS, count: int) -> None:
    async with asyncio.timeout(5):
        while reloading.reloads < count:
            await asyncio.sleep(POLL)


async def test_rotation_reaches_new_connections_and_spares_open_ones(
    served: tuple[ReloadingTLS, int], volume: SecretVolume, ca: CertificateAuthority
) -> None:
    reloading, port = served
    before = await Connection.open(port, _client(ca))
    assert await before.get() == (200, b"hello")

    renewed = _issue(ca)
    volume.write(renewed.cert_pem, renewed.key_pem)
    await _until_reloaded(reloading, 1)

    after = await Connection.open(port, _client(ca))
    assert after.peer == renewed.certificate
    assert await after.get() == (200, b"hello")
    assert before.peer != renewed.certificate
    assert await before.get() == (200, b"hello"), "the open connection keeps working"
    await after.close()
    await before.close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
async def test_tls_1_2_is_the_floor_and_only_modern_suites_are_offered(
    served: tuple[ReloadingTLS, int], ca: CertificateAuthority
) -> None:
    _, port = served
    tls12 = await Connection.open(port, _client(ca, maximum_version=ssl.TLSVersion.TLSv1_2))
    assert tls12.version == "TLSv1.2"
    await tls12.close()

    legacy = _client(
        ca, minimum_version=ssl.TLSVersion.TLSv1, maximum_version=ssl.TLSVersion.TLSv1_1
    )
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        await Connection.open(port, legacy)

    cbc = _client(ca, maximum_version=ssl.TLSVersion.TLSv1_2)
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384")
    with pytest.raises(ssl.SSLError):
        await Connection.open(port, cbc)


async def test_a_mismatched_pair_keeps_the_last_good_certificate_until_fixed(
    served: tuple[ReloadingTLS, int],
    volume: SecretVolume,
    ca: CertificateAuthority,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reloading, port = served
    first = await Connection.open(port, _client(ca))
    await first.close()
    one, two = _issue(ca), _issue(ca)
    with caplog.at_level(logging.WARNING, logger="gale_service.tls"):
        volume.write(one.cert_pem, two.key_pem)
        await asyncio.sleep(POLL * 10)
    assert reloading.reloads == 0
    reports = [r for r in caplog.records if "keeping the current certificate" in r.message]
    assert len(reports) == 1, "a bad pair is reported once, not on every poll"
    still = await Connection.open(port, _client(ca))
    assert still.peer == first.peer
    await still.close()

    volume.write(two.cert_pem, two.key_pem)
    await _until_reloaded(reloading, 1)
    fixed = await Connection.open(port, _client(ca))
    assert fixed.peer == two.certificate
    await fixed.close()


def _rsa_pair(ca: CertificateAuthority) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(minutes=5))
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def test_a_change_of_key_type_replaces_the_certificate_for_every_client(
    served: tuple[ReloadingTLS, int], volume: SecretVolume, ca: CertificateAuthority
) -> None:
    """An ECDSA-capable client must not keep getting the old ECDSA certificate after RSA."""
    reloading, port = served
    rsa_cert, rsa_key = _rsa_pair(ca)
    volume.write(rsa_cert, rsa_key)
    await _until_reloaded(reloading, 1)
    client = await Connection.open(port, _client(ca))
    assert client.peer == x509.load_pem_x509_certificate(rsa_cert)
    await client.close()


async def test_a_touch_without_new_content_does_not_reload(
    served: tuple[ReloadingTLS, int], volume: SecretVolume
) -> None:
    reloading, _ = served
    target = Path(volume.cert_file).resolve()
    os.utime(target, ns=(0, 0))
    assert reloading.reload_if_changed() is False
    assert reloading.reloads == 0


def test_missing_or_mismatched_files_fail_at_startup(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    with pytest.raises(TLSMaterialError, match="cannot read TLS files"):
        ReloadingTLS(str(tmp_path / "absent.crt"), str(tmp_path / "absent.key"))
    one, two = _issue(ca), _issue(ca)
    (tmp_path / "tls.crt").write_bytes(one.cert_pem)
    (tmp_path / "tls.key").write_bytes(two.key_pem)
    with pytest.raises(TLSMaterialError, match="not a usable certificate and key pair"):
        ReloadingTLS(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key"))


async def test_a_rotation_caught_half_way_keeps_serving_the_current_pair(
    served: tuple[ReloadingTLS, int], volume: SecretVolume, ca: CertificateAuthority
) -> None:
    """Between the kubelet's symlink swap and cleanup, the links may dangle for a moment."""
    reloading, port = served
    (volume.root / "..data").unlink()
    assert reloading.reload_if_changed() is False
    client = await Connection.open(port, _client(ca))
    assert await client.get() == (200, b"hello")
    await client.close()
    renewed = _issue(ca)
    volume.write(renewed.cert_pem, renewed.key_pem)
    await _until_reloaded(reloading, 1)


def test_without_anonymous_memory_files_a_private_temporary_file_is_used_and_removed(
    volume: SecretVolume, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    reloading = ReloadingTLS(volume.cert_file, volume.key_file)
    assert reloading.context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert list((tmp_path / "scratch").iterdir()) == [], "no key material is left behind"
