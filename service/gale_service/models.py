"""The platform's models (probes, problems, auth, imports): one source for request validation
and the OpenAPI document. Each resource keeps its own models in its package."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
)


class Restorable(BaseModel):
    """What an import line may carry besides a resource's writable fields: a whole document as
    an export wrote it, which is then restored unchanged.

    A missing ``id`` is a new one; missing timestamps are the import's time (``updated_at``
    defaults to ``created_at`` when only that is given); a missing ``version`` is 1; a
    missing ``owner`` is the caller. Only an admin may name an owner other than itself.
    A resource's import model is ``class ThingImport(Restorable, ThingWrite)``.
    """

    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{24}$")] | None = Field(
        default=None, description="An id as exported: 24 lower-case hex digits."
    )
    owner: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")] | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    version: Annotated[int, Strict(), Field(ge=1)] | None = None

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _as_exported(cls, value: Any) -> Any:
        """Date-times as text, as an export writes them: pydantic would also take a number
        as Unix time, which the schema (``format: date-time``) does not admit."""
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an RFC 3339 date-time string with a time zone")
        return value


class ImportResult(BaseModel):
    """What an import stored: every line, in order, or nothing; with
    ``on_conflict=skip``, every line but those whose id already existed (``skipped``)."""

    model_config = ConfigDict(title="ImportResult")

    created: int = Field(ge=0)
    ids: list[str]
    skipped: list[str] = Field(default_factory=list)


class Probe(BaseModel):
    """A health probe's answer; ``reason`` says why when it is not ok."""

    model_config = ConfigDict(title="Probe")

    status: Literal["ok", "unavailable"]
    reason: str


class ProblemFieldError(BaseModel):
    model_config = ConfigDict(title="ProblemFieldError")

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response."""

    model_config = ConfigDict(title="Problem", extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]


class Credentials(BaseModel):
    """The body of ``POST /api/v1/auth/token``."""

    model_config = ConfigDict(extra="forbid", title="Credentials")

    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class AccessToken(BaseModel):
    """A short-lived bearer token (a JWT; send it as ``Authorization: Bearer ...``)."""

    model_config = ConfigDict(title="AccessToken")

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the token expires.")


class NewUser(BaseModel):
    """The body of ``POST /api/v1/users`` (admins only)."""

    model_config = ConfigDict(extra="forbid", title="NewUser")

    username: Username
    password: Annotated[str, StringConstraints(min_length=12, max_length=1024)]
    is_admin: bool = False


class PasswordChange(BaseModel):
    """The body of ``POST /api/v1/auth/password``: the current password proves it is you."""

    model_config = ConfigDict(extra="forbid", title="PasswordChange")

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    new_password: Annotated[str, StringConstraints(min_length=12, max_length=1024)]


class User(BaseModel):
    """A user as the API shows it: never the password hash."""

    model_config = ConfigDict(title="User")

    username: str
    is_admin: bool
    locale: str | None
