"""``python -m gale_service`` serving HTTPS from ``GALE_TLS_CERT_FILE``/``GALE_TLS_KEY_FILE``."""

from __future__ import annotations

import datetime
import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

from gale_operator.core.pki import generate_ca, issue_serving_certificate

from tests.mongo import SecantusServer
from tests.service.process import ServiceProcess

NOW = datetime.datetime.now(datetime.UTC)


def test_the_service_process_serves_https_with_the_mounted_pair(
    tmp_path: Path, mongo_server: SecantusServer
) -> None:
    ca = generate_ca("gale", now=NOW)
    issued = issue_serving_certificate(
        ca, dns_names=("localhost",), now=NOW, duration=datetime.timedelta(days=1)
    )
    (tmp_path / "tls.crt").write_bytes(issued.cert_pem)
    (tmp_path / "tls.key").write_bytes(issued.key_pem)
    service = ServiceProcess(
        tmp_path / "run",
        mongodb_uri=mongo_server.uri,
        mongodb_database="https_process",
        tls_cert_file=str(tmp_path / "tls.crt"),
        tls_key_file=str(tmp_path / "tls.key"),
    )
    service.start()
    try:
        listening = service.wait_for_log("listening")
        assert listening["url"] == f"https://127.0.0.1:{service.port}"
        client = ssl.create_default_context(cadata=ca.cert_pem.decode())
        with urllib.request.urlopen(  # the certificate names localhost, not 127.0.0.1
            f"https://localhost:{service.port}/livez", context=client, timeout=10
        ) as response:
            assert json.load(response)["status"] == "ok"
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        service.terminate()
        assert service.wait() == 0


def test_an_unusable_key_pair_stops_the_start_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "tls.crt").write_text("not a certificate")
    (tmp_path / "tls.key").write_text("not a key")
    result = subprocess.run(
        [sys.executable, "-m", "gale_service"],
        env={
            "PATH": "/usr/bin:/bin",
            "GALE_SECRETS_DIR": str(tmp_path / "secrets"),
            "GALE_DATA_DIR": str(tmp_path / "data"),
            "GALE_TLS_CERT_FILE": str(tmp_path / "tls.crt"),
            "GALE_TLS_KEY_FILE": str(tmp_path / "tls.key"),
            "OTEL_TRACES_EXPORTER": "none",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "GALE_TLS_CERT_FILE" in lines[0]


def test_half_a_tls_configuration_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gale_service"],
        env={
            "PATH": "/usr/bin:/bin",
            "GALE_SECRETS_DIR": str(tmp_path / "secrets"),
            "GALE_TLS_CERT_FILE": str(tmp_path / "tls.crt"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("gale-service: invalid setting: GALE_TLS_KEY_FILE")
