"""Signing-key settings: the key-set format is checked at start-up; dev generates the keys
and the admin's password once, and logs the credentials when the admin is created."""

from __future__ import annotations

from pathlib import Path

import pytest
from gale_service.auth.keys import parse_key_set
from gale_service.settings import SettingsError, ensure_dev_secrets, load_settings

from tests.mongo import SecantusServer
from tests.service.harness import ADMIN_PASSWORD, live_service


@pytest.fixture(autouse=True)
def secrets_dir(isolated_settings: Path) -> Path:
    return isolated_settings


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GALE_JWT_KEYS", "just-a-secret", "GALE_JWT_KEYS: expected id:secret pairs"),
        ("GALE_JWT_KEYS", "k1:short", "GALE_JWT_KEYS: key 'k1' is shorter than 32"),
        ("GALE_JWT_KEYS", f"a:{'x' * 32} a:{'y' * 32}", "GALE_JWT_KEYS: key id 'a' appears"),
        ("GALE_COOKIE_SECRETS", f"v2:{'x' * 32}", "GALE_COOKIE_SECRETS: key id 'v2' must be"),
    ],
)
def test_malformed_key_sets_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(expected)
    assert "x" * 32 not in str(caught.value), "the secret itself is never echoed"


def test_key_sets_list_the_signing_key_first() -> None:
    keys = parse_key_set(f"new:{'n' * 32}, old:{'o' * 32}")
    assert (keys.current_id, keys.secret_for("old")) == ("new", "o" * 32)
    assert keys.secret_for("gone") is None
    cookies = parse_key_set(f"2:{'n' * 32} 1:{'o' * 32}", numeric_ids=True)
    assert cookies.as_cookie_secrets() == {2: "n" * 32, 1: "o" * 32}


def test_dev_generates_keys_and_the_admin_password_once(secrets_dir: Path) -> None:
    first = ensure_dev_secrets(load_settings())
    assert first.jwt_keys is not None
    assert first.cookie_secrets is not None
    assert first.admin_password is not None
    assert parse_key_set(first.jwt_keys.get_secret_value()).current_id == "dev-1"
    cookie_keys = parse_key_set(first.cookie_secrets.get_secret_value(), numeric_ids=True)
    assert cookie_keys.current_id == "1"
    for name in ("jwt_keys", "cookie_secrets", "admin_password"):
        assert (secrets_dir / name).stat().st_mode & 0o777 == 0o600

    second = ensure_dev_secrets(load_settings())
    assert second.admin_password == first.admin_password
    assert second.jwt_keys == first.jwt_keys


def announcements(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [r.getMessage() for r in caplog.records if "dev admin created" in r.getMessage()]
    caplog.clear()
    return found


async def test_dev_logs_the_admin_credentials_once_per_database(
    mongo_server: SecantusServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="gale_service.auth.authenticator")
    async with live_service(mongo_server.uri) as first:
        database = first.services.settings.mongodb_database
    assert announcements(caplog) == [
        f"dev admin created: sign in as 'admin' with password {ADMIN_PASSWORD}"
    ]
    async with live_service(mongo_server.uri, mongodb_database=database):
        pass
    assert announcements(caplog) == []
