"""Logging: JSON lines for machines, a readable format on a terminal, one access line per request.

With tracing on, ``trace_id``/``span_id`` come from a context variable, so every line logged
while serving a request carries them without each call site passing them along; the access line
takes ``request_id`` from the handler that served the request.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import sys
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import orjson
from tornado.web import RequestHandler

from gale_service.redaction import scrub_text

request_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "gale_request_context", default=None
)
ACCESS = logging.getLogger("gale.access")
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras = {
        k: scrub_text(v) if isinstance(v, str) else v
        for k, v in record.__dict__.items()
        if k not in _RESERVED
    }
    extras.update(request_context.get() or {})
    return extras


def _dumps(line: dict[str, Any]) -> str:
    """orjson (a tenth of the stdlib's cost on the access line); the stdlib for what orjson
    refuses (integers beyond 64 bits), so a log call never fails on a value."""
    try:
        return orjson.dumps(line, default=str).decode()
    except TypeError:
        return json.dumps(line, default=str, ensure_ascii=False)


class _UtcStamp:
    """ISO 8601 UTC time with milliseconds, the date and time formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, created: float) -> str:
        # Rounded as datetime.fromtimestamp rounds (fraction first, half to even).
        fraction, whole = math.modf(created)
        second, micros = int(whole), round(fraction * 1_000_000)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._stamp = _UtcStamp()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
            **_extras(record),
        }
        if record.exc_info:
            line["exception"] = scrub_text(self.formatException(record.exc_info))
        return _dumps(line)


class TextFormatter(logging.Formatter):
    """For people: time, level, message, then the structured fields as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        message = scrub_text(record.getMessage())
        text = f"{stamp} {record.levelname:<7} {record.name}: {message} {fields}"
        if record.exc_info:
            text += "\n" + scrub_text(self.formatException(record.exc_info))
        return text.rstrip()


def configure_logging(
    *,
    level: str = "info",
    fmt: str = "auto",
    file: Path | None = None,
    file_max_bytes: int = 50 * 1024 * 1024,
    file_backups: int = 5,
) -> None:
    """Log to stdout (containers: the runtime collects and rotates it) and, for VM installs,
    also to ``file`` as JSON lines, rotated by size."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handlers: list[logging.Handler] = [handler]
    if file is not None:
        rotating = RotatingFileHandler(
            file, maxBytes=file_max_bytes, backupCount=file_backups, encoding="utf-8"
        )
        rotating.setFormatter(JsonFormatter())
        handlers.append(rotating)
    # No formatter prints the caller, thread or process, so records need not look them up
    # (the Logging HOWTO's "Optimization" switches): a third of creating the access record.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    # Tornado's own access log is replaced by :func:`log_request`.
    logging.getLogger("tornado.access").disabled = True


def log_request(handler: RequestHandler) -> None:
    """The Application's ``log_function``: one line per request, level by status class."""
    access_line(
        method=handler.request.method,
        route=getattr(handler, "route", "unmatched"),
        status=handler.get_status(),
        seconds=handler.request.request_time(),
        request_id=getattr(handler, "request_id", None),
    )


def access_line(
    *, method: str | None, route: str, status: int, seconds: float, request_id: str | None
) -> None:
    """The access line of a request answered with or without a ``RequestHandler``."""
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    ACCESS.log(
        level,
        "request",
        extra={
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "request_id": request_id,
        },
    )
