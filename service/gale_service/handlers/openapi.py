"""``/openapi.json``: the API's own description."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from gale_service.handlers.base import ApiHandler
from gale_service.openapi import openapi_document


def service_version() -> str:
    try:
        return version("gale")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


class OpenApiHandler(ApiHandler):
    def get(self) -> None:
        self.write_json(openapi_document(service_version()))
