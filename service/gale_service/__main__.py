"""``python -m gale_service`` and the ``gale-service`` console script."""

from __future__ import annotations

import logging

from gale_service.embedded_db import DataDirInUse, EmbeddedDatabaseError
from gale_service.logs import configure_logging
from gale_service.server import PortUnavailable, run
from gale_service.settings import (
    SettingsError,
    ensure_dev_secrets,
    exit_on_bad_settings,
    load_settings,
)
from gale_service.telemetry.setup import TracingConfigError, configure_tracing
from gale_service.tls import TLSMaterialError


def main() -> None:
    try:
        settings = ensure_dev_secrets(load_settings())
    except SettingsError as error:
        exit_on_bad_settings(error)
    configure_logging(
        level=settings.log_level,
        fmt=settings.log_format,
        file=settings.log_file,
        file_max_bytes=settings.log_file_max_bytes,
        file_backups=settings.log_file_backups,
    )
    try:
        tracing = configure_tracing(dev=settings.is_dev)
    except TracingConfigError as error:
        exit_on_bad_settings(SettingsError(str(error)))
    try:
        run(settings)
    except TLSMaterialError as error:
        exit_on_bad_settings(SettingsError(f"GALE_TLS_CERT_FILE/GALE_TLS_KEY_FILE: {error}"))
    except PortUnavailable as error:
        exit_on_bad_settings(SettingsError(f"GALE_PORT: {error.strerror}"))
    except DataDirInUse as error:
        exit_on_bad_settings(SettingsError(str(error)))
    except EmbeddedDatabaseError as error:
        logging.getLogger("gale_service").error(str(error))
        raise SystemExit(1) from None
    finally:
        if tracing is not None:
            tracing.shutdown()


if __name__ == "__main__":
    main()
