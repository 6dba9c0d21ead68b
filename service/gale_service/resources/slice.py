"""A slice: a resource and everything the service serves for it, registered in one line
(``make_app(services, slices=(*SLICES, MINE))``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tornado.web import UIModule

from gale_service.endpoints import Endpoint
from gale_service.handlers.documents import CollectionHandler, DocumentHandler
from gale_service.handlers.export import ExportHandler
from gale_service.handlers.imports import ImportHandler
from gale_service.resource import Resource
from gale_service.resources.operations import (
    collection_operations,
    document_operations,
    export_operations,
    import_operations,
)


def crud_endpoints(resource: Resource) -> tuple[Endpoint, ...]:
    """``/api/v1/<name>``, ``/api/v1/<name>/{<singular>_id}``, ``/api/v1/export/<name>`` and
    ``/api/v1/import/<name>``, named ``<name>``, ``<singular>``, ``export_<name>`` and
    ``import_<name>`` for ``reverse_url``."""
    name, kwargs = resource.name, {"resource": resource}
    return (
        Endpoint(
            f"/api/v1/{name}",
            CollectionHandler,
            name,
            collection_operations(resource),
            kwargs=kwargs,
        ),
        Endpoint(
            f"/api/v1/{name}/{{{resource.id_parameter}}}",
            DocumentHandler,
            resource.singular,
            document_operations(resource),
            kwargs=kwargs,
        ),
        Endpoint(
            f"/api/v1/export/{name}",
            ExportHandler,
            f"export_{name}",
            export_operations(resource),
            kwargs=kwargs,
        ),
        Endpoint(
            f"/api/v1/import/{name}",
            ImportHandler,
            f"import_{name}",
            import_operations(resource),
            kwargs=kwargs,
        ),
    )


@dataclass(frozen=True)
class Slice:
    """``pages``: endpoints of its own besides the API (browser pages); ``ui_modules``: the
    Tornado UI modules its templates use."""

    resource: Resource
    pages: tuple[Endpoint, ...] = ()
    ui_modules: Mapping[str, type[UIModule]] = field(default_factory=dict)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return (*crud_endpoints(self.resource), *self.pages)
