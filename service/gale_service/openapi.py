"""The OpenAPI 3.1 document, built from the same pydantic models that validate requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gale_service.models import (
    AccessToken,
    Credentials,
    ImportResult,
    Item,
    ItemImport,
    ItemPage,
    ItemPatch,
    ItemWrite,
    NewUser,
    PasswordChange,
    Probe,
    Problem,
    User,
)

REF = "#/components/schemas/{model}"
COMMON_ERRORS = {
    "406": "The Accept header admits no media type this operation produces.",
    "503": "The database is unavailable or the service is shedding load; see Retry-After.",
}
BODY_ERRORS = {
    "400": "The body is not valid JSON.",
    "413": "The body exceeds the configured size limit.",
    "415": "The body's media type is not the one this operation takes.",
    "422": "The body violates the schema; `errors` lists every bad field.",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    request: type[BaseModel] | None = None
    request_media: str = "application/json"
    response: type[BaseModel] | None = None
    status: str = "200"
    response_media: str = "application/json"
    parameters: tuple[dict[str, Any], ...] = ()
    errors: dict[str, str] = field(default_factory=dict)
    #: Non-problem answers besides the main one: (status, model, description).
    answers: tuple[tuple[str, type[BaseModel], str], ...] = ()
    #: The main answer is a JSON object with no model of its own (the OpenAPI document).
    free_form: bool = False
    #: Answered without a bearer token (probes, this document, the token endpoint itself).
    public: bool = False


ITEM_ID = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": r'^(\*|(W/)?"[^"\s]*"(\s*,\s*(W/)?"[^"\s]*")*)$'},
    "description": "Apply only if the item is still at this (strong) ETag; malformed: 400.",
}
NOT_FOUND = {
    "404": "No item with this id that the caller may see (another user's item answers 404 too, "
    "so ids cannot be probed; malformed ids included)."
}
#: Every authenticated operation may answer these (see the README's security section).
AUTH_ERRORS = {
    "401": "No credentials, or a bearer token that is malformed, expired, not yet valid, "
    "signed with an unknown key or algorithm, or for another issuer or audience.",
    "429": "A rate limit is exhausted; see Retry-After and RateLimit.",
}
STALE = {
    "400": "A malformed If-Match header (or body, where there is one).",
    "412": "If-Match does not match the current version; nothing changed.",
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/api/v1/items",
        "createItem",
        "Create an item",
        ItemWrite,
        response=Item,
        status="201",
        errors=BODY_ERRORS,
    ),
    Operation(
        "get",
        "/api/v1/items",
        "listItems",
        "List items, oldest first",
        response=ItemPage,
        parameters=(
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
                "description": "Opaque: a next_cursor from a previous page of the same query.",
            },
            {"name": "tag", "in": "query", "required": False, "schema": {"type": "string"}},
        ),
        errors={"400": "A bad limit or a cursor this service did not issue."},
    ),
    Operation(
        "get",
        "/api/v1/items/{item_id}",
        "getItem",
        "Read an item",
        response=Item,
        parameters=(
            ITEM_ID,
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ),
        errors={**NOT_FOUND, "304": "Not modified since the given ETag."},
    ),
    Operation(
        "put",
        "/api/v1/items/{item_id}",
        "replaceItem",
        "Replace an item",
        ItemWrite,
        response=Item,
        parameters=(ITEM_ID, IF_MATCH),
        errors={**BODY_ERRORS, **NOT_FOUND, **STALE},
    ),
    Operation(
        "patch",
        "/api/v1/items/{item_id}",
        "patchItem",
        "Merge-patch an item",
        ItemPatch,
        request_media="application/merge-patch+json",
        response=Item,
        parameters=(ITEM_ID, IF_MATCH),
        errors={**BODY_ERRORS, **NOT_FOUND, **STALE},
    ),
    Operation(
        "delete",
        "/api/v1/items/{item_id}",
        "deleteItem",
        "Delete an item",
        status="204",
        parameters=(ITEM_ID, IF_MATCH),
        errors={**NOT_FOUND, **STALE},
    ),
    Operation(
        "get",
        "/api/v1/export/items",
        "exportItems",
        "Every item as NDJSON",
        response=Item,
        response_media="application/x-ndjson",
    ),
    Operation(
        "post",
        "/api/v1/import/items",
        "importItems",
        "Create many items from NDJSON, one ItemImport per line, all or nothing. An export "
        "imports back unchanged (ids, owners, timestamps, versions). A line without owner is "
        "the caller's; only an admin may name another owner.",
        ItemImport,
        request_media="application/x-ndjson",
        response=ImportResult,
        status="201",
        parameters=(
            {
                "name": "on_conflict",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["fail", "skip"], "default": "fail"},
                "description": "fail: an id already stored makes the import a 409 listing "
                "every such id, and nothing is stored; skip: those lines are left out.",
            },
        ),
        answers=(("200", ImportResult, "With on_conflict=skip: every line was skipped."),),
        errors={
            **BODY_ERRORS,
            "400": "A line is not valid JSON, or on_conflict is neither fail nor skip.",
            "403": "A non-admin's lines name another owner.",
            "409": "Ids already stored (listed in errors); nothing was imported.",
            "422": "A line violates the schema or repeats an earlier line's id.",
        },
    ),
    *(
        Operation(
            "get",
            f"/{probe}",
            f"{probe}Probe",
            summary,
            response=Probe,
            answers=(("503", Probe, "Not " + summary[0].lower() + summary[1:] + "."),),
            public=True,
        )
        for probe, summary in (
            ("livez", "Alive: the event loop answers"),
            ("readyz", "Ready for traffic: migrated, a fresh DB ping, not draining"),
            ("startupz", "Started: migrations applied"),
        )
    ),
    Operation(
        "get",
        "/openapi.json",
        "openapiDocument",
        "This document",
        free_form=True,
        errors={"503": COMMON_ERRORS["503"]},
        public=True,
    ),
    Operation(
        "post",
        "/api/v1/auth/token",
        "createToken",
        "Exchange a username and password for a short-lived bearer token",
        Credentials,
        response=AccessToken,
        errors={
            **BODY_ERRORS,
            "401": "Wrong username or password.",
            "429": "Too many login attempts from this address; see Retry-After.",
        },
        public=True,
    ),
    Operation("get", "/api/v1/auth/me", "whoAmI", "The authenticated caller", response=User),
    Operation(
        "post",
        "/api/v1/auth/password",
        "changePassword",
        "Change your password: every earlier session and token of yours ends; "
        "the answer is a fresh token",
        PasswordChange,
        response=AccessToken,
        errors={**BODY_ERRORS, "403": "The current password is wrong."},
    ),
    Operation(
        "delete",
        "/api/v1/users/{username}/sessions",
        "revokeUserSessions",
        "Revoke all: end every session and token of a user (admins, or the user themself); "
        "effective at once on this replica, within 5 s on the others",
        status="204",
        parameters=(
            {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        errors={
            "403": "The caller is neither an admin nor this user.",
            "404": "No such user.",
        },
    ),
    Operation(
        "post",
        "/api/v1/users",
        "createUser",
        "Create a user (admins only)",
        NewUser,
        response=User,
        status="201",
        errors={
            **BODY_ERRORS,
            "403": "The caller is authenticated but not an admin.",
            "409": "A user with this name exists, in any letter case.",
        },
    ),
)


def _response(model: type[BaseModel] | None, media: str, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if model is not None:
        response["content"] = {media: {"schema": {"$ref": REF.format(model=model.__name__)}}}
    return response


def _operation(op: Operation) -> dict[str, Any]:
    responses = {op.status: _response(op.response, op.response_media, op.summary)}
    if op.free_form:
        responses[op.status]["content"] = {op.response_media: {"schema": {"type": "object"}}}
    auth_errors = {} if op.public else AUTH_ERRORS
    for status, description in {**COMMON_ERRORS, **auth_errors, **op.errors}.items():
        if status == "304":
            responses[status] = {"description": description}
        else:
            responses[status] = _response(Problem, "application/problem+json", description)
    for status, model, description in op.answers:
        responses[status] = _response(model, "application/json", description)
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "parameters": list(op.parameters),
        "responses": responses,
    }
    if op.public:
        document["security"] = []
    if op.request is not None:
        document["requestBody"] = {
            "required": True,
            "content": {
                op.request_media: {"schema": {"$ref": REF.format(model=op.request.__name__)}}
            },
        }
    return document


def _component_models() -> list[type[BaseModel]]:
    """Every model an operation names, and Problem (every error's body): derived, so a new
    operation can never reference a schema the document lacks."""
    found: set[type[BaseModel]] = {Problem}
    for op in OPERATIONS:
        found.update(model for model in (op.request, op.response) if model is not None)
        found.update(model for _, model, _ in op.answers)
    return sorted(found, key=lambda model: model.__name__)


@cache
def openapi_document(version: str) -> dict[str, Any]:
    """The whole document; cached because it is pure and the models are static."""
    models = _component_models()
    _, schemas = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gale items API", "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }
