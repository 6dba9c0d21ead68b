"""Logging set-up: secrets scrubbed, JSON lines to a rotating file for VM installs, debug mode
refused in production, and a tracing configuration the service cannot honour refused."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gale_service.logs import configure_logging
from gale_service.settings import SettingsError, load_settings
from gale_service.telemetry.redaction import scrub_headers, scrub_text

from tests.service.harness import TEST_AUTH


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /a?token=abc&page=2", "GET /a?token=REDACTED&page=2"),
        ("GET /a?Access_Token=abc#frag", "GET /a?Access_Token=REDACTED#frag"),
        (
            "uri='/a?api_key=k1', version='HTTP/1.1'",
            "uri='/a?api_key=REDACTED', version='HTTP/1.1'",
        ),
        ("mongodb://gale:s3cret@db:27017/gale", "mongodb://gale:REDACTED@db:27017/gale"),
        ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer REDACTED"),
        ("nothing secret here: a=1", "nothing secret here: a=1"),
    ],
)
def test_secrets_are_scrubbed_from_text(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_secret_headers_are_scrubbed() -> None:
    headers = {"Authorization": "Bearer x", "Cookie": "s=1", "Accept": "application/json"}
    assert scrub_headers(headers) == {
        "Authorization": "REDACTED",
        "Cookie": "REDACTED",
        "Accept": "application/json",
    }


def test_rotating_file_gets_scrubbed_json_lines(tmp_path: Path, restore_logging: None) -> None:
    path = tmp_path / "gale.log"
    configure_logging(fmt="json", file=path, file_max_bytes=64 * 1024, file_backups=2)
    log = logging.getLogger("tests.logs")
    log.info("connecting to %s", "mongodb://u:hunter2@db/gale", extra={"dsn": "x?password=p"})
    for index in range(300):  # ~75 KiB of lines: more than one file's worth, less than two
        log.info("filler line %d %s", index, "x" * 150)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert rotated == ["gale.log", "gale.log.1"], "rotated by size, backups kept"
    first = json.loads((tmp_path / "gale.log.1").read_text().splitlines()[0])
    assert first["message"] == "connecting to mongodb://u:REDACTED@db/gale"
    assert first["dsn"] == "x?password=REDACTED"
    assert all(line["logger"] == "tests.logs" for line in lines)


def test_debug_mode_is_refused_in_production() -> None:
    production = {
        **TEST_AUTH,
        "env": "production",
        "mongodb_uri": "mongodb://db/gale",
        "secret_key": "s" * 40,
    }
    assert not load_settings(**production).debug
    with pytest.raises(SettingsError, match=r"debug.*refused"):
        load_settings(**production, debug=True)
    assert load_settings(debug=True).debug


def test_unsupported_otlp_protocol_is_a_configuration_error(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GALE_", "OTEL_"))},
        "GALE_SECRETS_DIR": str(tmp_path),
        "GALE_DATA_DIR": str(tmp_path),
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    result = subprocess.run(
        [sys.executable, "-m", "gale_service"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gale-service: invalid setting: OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc'")
