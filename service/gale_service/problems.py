"""RFC 9457 problem details as exceptions handlers raise and ``write_error`` renders."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from tornado.web import HTTPError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://gale.dev/problems/"


class Problem(HTTPError):
    """An error response with a machine-readable ``type`` and a human ``detail``.

    ``headers`` are set on the response (``Retry-After``, ``WWW-Authenticate``...).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Sequence[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        phrase = HTTPStatus(status).phrase
        super().__init__(status, detail, reason=phrase)
        self.detail = detail
        self.title = title or phrase
        self.type = TYPE_BASE + slug if slug else "about:blank"
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})

    def body(self, *, instance: str | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status_code,
            "detail": self.detail,
        }
        if instance is not None:
            document["instance"] = instance
        if self.errors is not None:
            document["errors"] = self.errors
        return document


def problem_for_status(status: int, *, detail: str | None = None) -> Problem:
    """A generic problem for errors raised as plain ``HTTPError`` or by Tornado itself."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return Problem(status, detail or phrase) if status >= 400 else Problem(500, phrase)
