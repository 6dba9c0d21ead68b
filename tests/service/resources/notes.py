"""The notes' models, declared for the tests alone (see test_second_resource.py).

A module of their own, importing nothing but pydantic and the platform's models: an import
is parsed in a spawned worker process, which unpickles ``NoteImport`` by importing this
module, and importing the test module (pytest and all) there would take seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from gale_service.models import Restorable
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema


def _json_integer(value: Any) -> Any:
    """JSON has one number type: ``1.0`` is the integer 1 (as JSON Schema says), but ``"1"``
    and ``true`` are not numbers at all."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: A title must say something: not only blanks (``pattern`` searches, in JSON Schema too).
Title = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"\S")]
Priority = Annotated[int, Field(ge=1, le=5), Strict(), BeforeValidator(_json_integer)]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class NoteWrite(BaseModel):
    """A note's writable fields."""

    model_config = ConfigDict(extra="forbid", title="NoteWrite")

    title: Title
    body: Annotated[str, StringConstraints(max_length=2000)] = ""
    priority: Priority = 3


class NotePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", title="NotePatch")

    title: Title | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    body: Annotated[str, StringConstraints(max_length=2000)] | None = None
    priority: Priority | None = None

    @field_validator("title")
    @classmethod
    def _title_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("must not be null: a note always has a title")
        return value


class Note(BaseModel):
    model_config = ConfigDict(title="Note")

    id: str
    title: str
    body: str
    priority: int
    owner: str
    created_at: datetime
    updated_at: datetime
    version: int = Field(ge=1)


class NotePage(BaseModel):
    model_config = ConfigDict(title="NotePage")

    notes: list[Note]
    next_cursor: str | None


class NoteImport(Restorable, NoteWrite):
    model_config = ConfigDict(extra="forbid", title="NoteImport")
