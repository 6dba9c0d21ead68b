"""What a resource is, declared once: its names and the models that validate and describe it.

Everything else about a resource (its store, handlers, OpenAPI operations, export and
import, live events) is derived from this by resource-agnostic machinery, so adding one is a
package with its models and one :class:`Resource`, registered in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class Resource:
    """``name`` is the plural: the URL segment, the collection and the listing's key
    (``items``); ``singular`` names ids, events and frames (``item_id``, ``item.created``).

    ``write`` validates ``POST``/``PUT`` bodies (every writable field); ``patch`` documents
    which fields a merge patch may touch (its result is validated as ``write``); ``public`` is
    a document as the API returns it; ``page`` one page of a listing (``{name: [public],
    "next_cursor": ...}``); ``restore`` one line of an import (``write`` plus
    :class:`~gale_service.models.Restorable`). ``tags``: the list field that listings and live
    subscriptions filter on, or ``None``.
    """

    name: str
    singular: str
    write: type[BaseModel]
    patch: type[BaseModel]
    public: type[BaseModel]
    page: type[BaseModel]
    restore: type[BaseModel]
    tags: str | None = None

    @property
    def id_parameter(self) -> str:
        return f"{self.singular}_id"

    @property
    def article(self) -> str:
        return "an" if self.singular[:1] in "aeiou" else "a"
