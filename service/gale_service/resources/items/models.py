"""The sample resource's models: what an item is, what a client may write, how it is shown.

Rename "items" here when you start your own service from Gale.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema

from gale_service.models import Restorable

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Tag = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
]
Tags = Annotated[list[Tag], Field(max_length=20)]


class ItemWrite(BaseModel):
    """The body of ``POST`` and ``PUT``: every writable field, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", title="ItemWrite")

    name: Name
    description: Description = ""
    tags: Tags = Field(default_factory=list)


def _no_default(schema: dict[str, Any]) -> None:
    """For fields whose Python default (``None``) is not a value a client may send."""
    schema.pop("default", None)


class ItemPatch(BaseModel):
    """The result of applying a JSON merge patch must still be a valid :class:`ItemWrite`;
    this model documents which fields a patch may touch."""

    model_config = ConfigDict(extra="forbid", title="ItemPatch")

    #: Optional but never null (so not nullable in the schema): an item always has a name.
    name: Name | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    #: ``null`` resets to the default (empty).
    description: Description | None = None
    tags: Tags | None = None

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("must not be null: an item always has a name")
        return value


class Item(BaseModel):
    """An item as the API returns it."""

    model_config = ConfigDict(title="Item")

    id: str = Field(description="Opaque identifier.")
    name: str
    description: str
    tags: list[str]
    owner: str
    created_at: datetime
    updated_at: datetime
    version: int = Field(ge=1, description="Bumped by every write; the ETag is derived from it.")


class ItemPage(BaseModel):
    """One page of a listing; pass ``next_cursor`` back as ``cursor`` for the next one."""

    model_config = ConfigDict(title="ItemPage")

    items: list[Item]
    next_cursor: str | None


class ItemImport(Restorable, ItemWrite):
    """One line of ``POST /api/v1/import/items``: an :class:`ItemWrite`, or a whole
    :class:`Item` as ``GET /api/v1/export/items`` wrote it, which is then restored unchanged.

    A missing ``id`` is a new one; missing timestamps are the import's time (``updated_at``
    defaults to ``created_at`` when only that is given); a missing ``version`` is 1; a
    missing ``owner`` is the caller. Only an admin may name an owner other than itself.
    """

    model_config = ConfigDict(extra="forbid", title="ItemImport")
