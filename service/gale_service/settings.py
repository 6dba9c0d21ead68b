"""Typed settings, read once at start-up from ``GALE_*`` variables and a secrets directory.

Kubernetes mounts a Secret as one file per key, so every setting can also come from a file
named like the setting (``mongodb_uri``, ``secret_key``) in ``GALE_SECRETS_DIR``. The
environment wins over files. Settings are frozen: nothing may change them after start-up.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import os
import secrets
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, Self
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as PydanticSettingsError

from gale_service.auth.keys import generate_key_set_text, parse_key_set

DEV_DATA_DIR = Path(".gale-data")
DEFAULT_SECRETS_DIR = Path("/var/run/secrets/gale")
#: ``GALE_DRAIN_SECONDS`` when unset in dev (production keeps the field's default).
DEV_DRAIN_SECONDS = 0.0
#: Secrets a production start refuses to run without; dev generates and keeps them.
REQUIRED_SECRETS = ("secret_key", "jwt_keys", "cookie_secrets")
#: What dev generates on first start: the required secrets plus the admin's password.
DEV_SECRETS = (*REQUIRED_SECRETS, "admin_password")
#: Key sets are ``id:secret`` pairs, newest first (see gale_service.auth.keys).
_DEV_SECRET_VALUES: dict[str, Callable[[], str]] = {
    "jwt_keys": lambda: generate_key_set_text("dev-1"),
    "cookie_secrets": lambda: generate_key_set_text("1"),
}


class Environment(enum.StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class Driver(enum.StrEnum):
    PYMONGO = "pymongo"
    MOTOR = "motor"


class WriteConcern(enum.StrEnum):
    MAJORITY = "majority"
    ONE = "1"


class Settings(BaseSettings):
    """Every knob the service has; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(
        env_prefix="GALE_",
        frozen=True,
        extra="ignore",
        case_sensitive=False,
        # Lists are comma-separated (``GALE_TRUSTED_PROXIES=10.0.0.0/8,fd00::/8``), see below.
        enable_decoding=False,
    )

    env: Environment = Environment.DEV
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8888
    metrics_port: Annotated[int | None, Field(ge=1, le=65535)] = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    secrets_dir: Path | None = None
    data_dir: Path = DEV_DATA_DIR

    mongodb_uri: SecretStr | None = None
    mongodb_database: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,63}$")] = "gale"
    mongo_driver: Driver = Driver.PYMONGO
    mongodb_max_pool_size: Annotated[int, Field(ge=1, le=1000)] = 50
    mongodb_min_pool_size: Annotated[int, Field(ge=0, le=1000)] = 0
    mongodb_server_selection_timeout_ms: Annotated[int, Field(ge=100, le=120_000)] = 2_000
    mongodb_connect_timeout_ms: Annotated[int, Field(ge=100, le=120_000)] = 2_000
    mongodb_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 5_000
    mongodb_write_concern: WriteConcern = WriteConcern.MAJORITY
    mongodb_journal: bool = True

    secret_key: SecretStr | None = None
    #: JWT signing keys, ``kid:secret`` pairs newest first: the first signs, all verify.
    jwt_keys: SecretStr | None = None
    #: Cookie signing secrets, ``version:secret`` pairs (integer versions), newest first.
    cookie_secrets: SecretStr | None = None
    admin_username: Annotated[str, Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")] = "admin"
    #: The bootstrapped admin's password; unset in production means no admin is created.
    admin_password: SecretStr | None = None
    jwt_issuer: str = "gale"
    jwt_audience: str = "gale-api"
    jwt_ttl_seconds: Annotated[int, Field(ge=30, le=86_400)] = 900
    session_ttl_seconds: Annotated[int, Field(ge=60, le=30 * 86_400)] = 8 * 3600
    #: ``Secure`` + ``__Host-`` cookies; default: on in production (always behind TLS).
    secure_cookies: bool | None = None
    argon2_time_cost: Annotated[int, Field(ge=1, le=20)] = 3
    argon2_memory_kib: Annotated[int, Field(ge=8, le=1024 * 1024)] = 64 * 1024
    argon2_parallelism: Annotated[int, Field(ge=1, le=16)] = 4

    #: ``Host`` names served (DNS-rebinding defence); ``*.domain`` and ``*`` allowed. The
    #: default admits loopback and in-cluster Service names; add public (Ingress) names.
    allowed_hosts: tuple[str, ...] = (
        "localhost",
        "127.0.0.1",
        "[::1]",
        "*.svc",
        "*.svc.cluster.local",
    )
    #: WebSocket ``Origin`` allow-list (scheme://host[:port]); empty: same host only.
    allowed_origins: tuple[str, ...] = ()
    rate_limit_ip_burst: Annotated[int, Field(ge=1)] = 120
    rate_limit_ip_per_second: Annotated[float, Field(gt=0)] = 20.0
    rate_limit_user_burst: Annotated[int, Field(ge=1)] = 60
    rate_limit_user_per_second: Annotated[float, Field(gt=0)] = 10.0
    rate_limit_login_burst: Annotated[int, Field(ge=1)] = 5
    rate_limit_login_per_second: Annotated[float, Field(gt=0)] = 0.1
    max_in_flight_requests: Annotated[int, Field(ge=1, le=100_000)] = 256
    ws_ping_interval_seconds: Annotated[float, Field(gt=0, le=600)] = 20.0
    #: At most the ping interval (Tornado caps it there).
    ws_ping_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    ws_max_message_bytes: Annotated[int, Field(ge=256, le=1024 * 1024)] = 16 * 1024
    ws_send_queue_size: Annotated[int, Field(ge=1, le=100_000)] = 256
    ws_max_invalid_messages: Annotated[int, Field(ge=1, le=1000)] = 5
    live_poll_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0

    #: Production's default; dev stops at once (:data:`DEV_DRAIN_SECONDS`) unless set.
    drain_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    shutdown_timeout_seconds: Annotated[float, Field(ge=0, le=600)] = 20.0
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    max_header_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 16 * 1024
    idle_connection_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 75.0
    body_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    trusted_proxies: tuple[str, ...] = ()
    blocking_workers: Annotated[int, Field(ge=1, le=256)] = 8
    cpu_workers: Annotated[int, Field(ge=1, le=64)] = 2
    #: ``uvloop`` (libuv; Tornado runs on it unchanged) or the standard ``asyncio`` loop.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    #: Net allocations between young garbage-collector passes once serving (see heap.py).
    gc_young_threshold: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000

    log_level: Annotated[str, Field(pattern=r"^(?i:debug|info|warning|error)$")] = "info"
    log_format: Annotated[str, Field(pattern=r"^(auto|json|text)$")] = "auto"
    #: Also log to this file, rotated by size (VM installs; containers log to stdout only).
    log_file: Path | None = None
    log_file_max_bytes: Annotated[int, Field(ge=64 * 1024)] = 50 * 1024 * 1024
    log_file_backups: Annotated[int, Field(ge=1, le=100)] = 5
    #: Tornado debug mode (autoreload, tracebacks in responses): dev only.
    debug: bool = False
    #: The built-in request spans; off when an external instrumentation traces requests.
    trace_requests: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then the secrets directory's files.

        Files are named like the setting without the ``GALE_`` prefix (``mongodb_uri``), the
        way a Kubernetes Secret's keys read naturally; pydantic's default would want
        ``gale_mongodb_uri``.
        """
        secrets_dir = getattr(file_secret_settings, "secrets_dir", None)
        files = SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir, env_prefix="")
        return (init_settings, env_settings, files)

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: Any) -> Any:
        """Tuple settings from the environment or a file: comma-separated, or a JSON array."""
        if not isinstance(data, dict):
            return data
        split = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is None or not isinstance(value, str):
                continue
            if typing.get_origin(field.annotation) is tuple:
                text = value.strip()
                if text.startswith("["):
                    try:
                        split[name] = json.loads(text)
                    except ValueError:
                        raise ValueError(f"GALE_{name.upper()}: not a JSON array") from None
                else:
                    split[name] = tuple(part.strip() for part in text.split(",") if part.strip())
        return split

    @model_validator(mode="before")
    @classmethod
    def _dev_stops_at_once(cls, data: Any) -> Any:
        """No drain pause in dev unless configured: nothing routes traffic away from a laptop,
        so Ctrl-C should not wait for an endpoints controller that does not exist."""
        if not isinstance(data, dict) or data.get("drain_seconds") is not None:
            return data
        if str(data.get("env", Environment.DEV)).lower() != Environment.DEV.value:
            return data
        return {**data, "drain_seconds": DEV_DRAIN_SECONDS}

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("mongodb_uri")
    @classmethod
    def _mongodb_uri_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            scheme = urlsplit(value.get_secret_value()).scheme
            if scheme not in {"mongodb", "mongodb+srv"}:
                raise ValueError("must start with mongodb:// or mongodb+srv://")
        return value

    @field_validator("jwt_keys", "cookie_secrets")
    @classmethod
    def _key_set_format(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None:
            parse_key_set(value.get_secret_value(), numeric_ids=info.field_name == "cookie_secrets")
        return value

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Self:
        if self.env is Environment.PRODUCTION:
            if self.mongodb_uri is None:
                raise ValueError("GALE_MONGODB_URI: required when GALE_ENV=production")
            for name in REQUIRED_SECRETS:
                value = getattr(self, name)
                if value is None or len(value.get_secret_value()) < 32:
                    raise ValueError(
                        f"GALE_{name.upper()}: production needs a real secret of at least 32 "
                        f"characters (the variable or a file {name!r} in the secrets directory)"
                    )
        if self.mongodb_min_pool_size > self.mongodb_max_pool_size:
            raise ValueError(
                "GALE_MONGODB_MIN_POOL_SIZE: must not exceed GALE_MONGODB_MAX_POOL_SIZE"
            )
        return self

    @model_validator(mode="after")
    def _tls_needs_both_files(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            missing = "tls_key_file" if self.tls_key_file is None else "tls_cert_file"
            raise ValueError(
                f"GALE_{missing.upper()}: HTTPS needs both GALE_TLS_CERT_FILE and "
                "GALE_TLS_KEY_FILE (or neither, for plain HTTP)"
            )
        return self

    @property
    def serves_tls(self) -> bool:
        return self.tls_cert_file is not None and self.tls_key_file is not None

    @model_validator(mode="after")
    def _debug_only_in_dev(self) -> Self:
        if self.debug and self.env is Environment.PRODUCTION:
            raise ValueError(
                "debug: Tornado debug mode (autoreload, tracebacks in responses) is refused "
                "when GALE_ENV=production"
            )
        return self

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV


class SettingsError(Exception):
    """A setting that cannot be used; the message names it and says what is wrong."""


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["loc"]:
        return f"GALE_{str(first['loc'][0]).upper()}: {message}"
    return message


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise :class:`SettingsError` naming the bad one."""
    secrets_dir = os.environ.get("GALE_SECRETS_DIR")
    if secrets_dir is None:
        is_dev = os.environ.get("GALE_ENV", "dev").lower() == "dev"
        default = DEV_DATA_DIR / "secrets" if is_dev else DEFAULT_SECRETS_DIR
        secrets_dir = str(default)
    directory = Path(secrets_dir)
    try:
        return Settings(
            _secrets_dir=directory if directory.is_dir() else None,  # type: ignore[call-arg]
            secrets_dir=directory,
            **overrides,
        )
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None
    except PydanticSettingsError as error:
        raise SettingsError(str(error)) from None


def ensure_dev_secrets(settings: Settings) -> Settings:
    """In dev, generate the secrets production would refuse to run without, and keep them.

    They are written to the secrets directory so a restart keeps sessions and tokens valid.
    """
    if not settings.is_dev:
        return settings
    missing = {name for name in DEV_SECRETS if getattr(settings, name) is None}
    if not missing:
        return settings
    directory = settings.secrets_dir or DEV_DATA_DIR / "secrets"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    generated: dict[str, Any] = {}
    for name in sorted(missing):
        path = directory / name
        if not path.exists():
            make = _DEV_SECRET_VALUES.get(name)
            path.write_text(make() if make else secrets.token_urlsafe(48))
            path.chmod(0o600)
        generated[name] = SecretStr(path.read_text().strip())
    return settings.model_copy(update=generated)


def exit_on_bad_settings(error: SettingsError) -> NoReturn:
    """One line on stderr and exit code 2, the convention for a usage/configuration error."""
    print(f"gale-service: invalid setting: {error}", file=sys.stderr)
    raise SystemExit(2)
