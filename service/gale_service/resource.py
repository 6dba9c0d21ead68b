"""What a resource is, declared once: its names and the models that validate and describe it.

Everything else about a resource (its store, handlers, OpenAPI operations, export and
import, live events) is derived from this by resource-agnostic machinery, so adding one is a
package with its models and one :class:`Resource`, registered in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Keys of a live frame that a kind's document (sent under the kind's name) must not replace.
FRAME_KEYS = frozenset({"type", "seq", "event"})


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

    def __post_init__(self) -> None:
        """Names become URL segments, collection names, route names, event types and frame
        keys: refuse at declaration what would break one of them."""
        for value in (self.name, self.singular):
            if not NAME.match(value):
                raise ValueError(f"resource names are lower-case identifiers, got {value!r}")
        if self.name == self.singular:
            raise ValueError(f"{self.name!r}: the plural and singular names must differ")
        if self.singular in FRAME_KEYS:
            raise ValueError(f"{self.singular!r} is a live frame's own key; choose another name")
        if self.tags is not None and self.tags not in self.write.model_fields:
            raise ValueError(f"tags field {self.tags!r} is not a field of {self.write.__name__}")

    @property
    def id_parameter(self) -> str:
        return f"{self.singular}_id"

    @property
    def article(self) -> str:
        return "an" if self.singular[:1] in "aeiou" else "a"
