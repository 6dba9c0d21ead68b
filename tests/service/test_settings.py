"""Settings: typed GALE_* variables and secret files; a bad value is one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gale_service.settings import (
    REQUIRED_SECRETS,
    Environment,
    SettingsError,
    ensure_dev_secrets,
    load_settings,
)

REAL_SECRET = "s" * 40


@pytest.fixture(autouse=True)
def clean_environment(isolated_settings: Path) -> Path:
    return isolated_settings


def production_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Well-formed secrets in the secrets dir, as dev generates them."""
    with monkeypatch.context() as dev:
        dev.setenv("GALE_ENV", "dev")
        dev.delenv("GALE_MONGODB_URI", raising=False)
        ensure_dev_secrets(load_settings())


def test_defaults() -> None:
    settings = load_settings()
    assert settings.env is Environment.DEV
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8888, 1)
    assert settings.mongodb_uri is None
    assert settings.mongo_driver.value == "pymongo"
    assert settings.mongodb_write_concern.value == "majority"
    assert settings.mongodb_journal is True
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.drain_seconds == 0.0, "dev stops at once: no endpoints to drain from"


def test_production_drains_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    production_secrets(monkeypatch)
    monkeypatch.setenv("GALE_ENV", "production")
    monkeypatch.setenv("GALE_MONGODB_URI", "mongodb://db.internal/")
    assert load_settings().drain_seconds == 5.0
    monkeypatch.setenv("GALE_DRAIN_SECONDS", "0")
    assert load_settings().drain_seconds == 0.0
    monkeypatch.setenv("GALE_ENV", "dev")
    monkeypatch.setenv("GALE_DRAIN_SECONDS", "3")
    assert load_settings().drain_seconds == 3.0


def test_environment_is_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GALE_PORT", "9000")
    monkeypatch.setenv("GALE_MONGO_DRIVER", "motor")
    monkeypatch.setenv("GALE_DRAIN_SECONDS", "0.5")
    monkeypatch.setenv("GALE_MONGODB_JOURNAL", "false")
    monkeypatch.setenv("GALE_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8")
    settings = load_settings()
    assert settings.port == 9000
    assert settings.mongo_driver.value == "motor"
    assert settings.drain_seconds == 0.5
    assert settings.mongodb_journal is False
    assert settings.trusted_proxies == ("10.0.0.0/8", "fd00::/8")


def test_secret_files_are_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    (clean_environment / "mongodb_uri").write_text("mongodb://from-file:27017/\n")
    (clean_environment / "mongodb_database").write_text("fromfile")
    monkeypatch.setenv("GALE_MONGODB_DATABASE", "fromenv")
    settings = load_settings()
    assert settings.mongodb_uri is not None
    assert settings.mongodb_uri.get_secret_value() == "mongodb://from-file:27017/"
    assert settings.mongodb_database == "fromenv"
    assert "from-file" not in repr(settings)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GALE_PORT", "eighty", "GALE_PORT: Input should be a valid integer"),
        ("GALE_PORT", "70000", "GALE_PORT: Input should be less than or equal to 65535"),
        ("GALE_ENV", "staging", "GALE_ENV: Input should be 'dev' or 'production'"),
        ("GALE_MONGO_DRIVER", "mongoengine", "GALE_MONGO_DRIVER: Input should be"),
        ("GALE_MONGODB_URI", "postgres://x", "GALE_MONGODB_URI: must start with mongodb://"),
        ("GALE_MONGODB_DATABASE", "a/b", "GALE_MONGODB_DATABASE: String should match"),
        ("GALE_MONGODB_WRITE_CONCERN", "2", "GALE_MONGODB_WRITE_CONCERN: Input should be"),
        ("GALE_MAX_BODY_BYTES", "10", "GALE_MAX_BODY_BYTES: Input should be greater than"),
        ("GALE_TRUSTED_PROXIES", "10.0.0.0/8,nope", "GALE_TRUSTED_PROXIES: 'nope' is not an IP"),
        ("GALE_TRUSTED_PROXIES", "[1,", "GALE_TRUSTED_PROXIES: not a JSON array"),
        ("GALE_LOG_FORMAT", "xml", "GALE_LOG_FORMAT: String should match"),
        ("GALE_MONGODB_MIN_POOL_SIZE", "51", "GALE_MONGODB_MIN_POOL_SIZE: must not exceed"),
    ],
)
def test_a_bad_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_production_refuses_to_start_without_real_secrets(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("GALE_ENV", "production")
    with pytest.raises(SettingsError, match="GALE_MONGODB_URI: required"):
        load_settings()
    monkeypatch.setenv("GALE_MONGODB_URI", "mongodb://db.internal/")
    with pytest.raises(SettingsError, match="GALE_SECRET_KEY: production needs a real secret"):
        load_settings()
    production_secrets(monkeypatch)
    for name in REQUIRED_SECRETS:
        (clean_environment / name).rename(clean_environment / f"{name}.bak")
        with pytest.raises(SettingsError, match=f"GALE_{name.upper()}: production needs"):
            load_settings()
        (clean_environment / f"{name}.bak").rename(clean_environment / name)
    (clean_environment / "secret_key").write_text("short")
    with pytest.raises(SettingsError, match="GALE_SECRET_KEY: production needs"):
        load_settings()
    (clean_environment / "secret_key").write_text(REAL_SECRET)
    settings = load_settings()
    assert ensure_dev_secrets(settings) is settings, "production never generates secrets"


def test_dev_generates_missing_secrets_once_and_keeps_them(clean_environment: Path) -> None:
    first = ensure_dev_secrets(load_settings())
    assert first.secret_key is not None
    assert len(first.secret_key.get_secret_value()) >= 32
    stored = clean_environment / "secret_key"
    assert stored.stat().st_mode & 0o777 == 0o600
    second = ensure_dev_secrets(load_settings())
    assert second.secret_key == first.secret_key


def test_the_process_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("GALE_")
    } | {"GALE_PORT": "not-a-port", "GALE_SECRETS_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "gale_service"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("gale-service: invalid setting: GALE_PORT:")
