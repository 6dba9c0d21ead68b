"""Resources as slices: each resource is one package (its models, its pages, its
:class:`Slice`) over resource-agnostic machinery (versioned documents, the outbox and live
feed, export and import, problem+json). Add one with a package and one line in
``app.SLICES``."""

from gale_service.resources.slice import Slice, crud_endpoints

__all__ = ["Slice", "crud_endpoints"]
