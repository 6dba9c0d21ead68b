"""The OpenAPI 3.1 document, built from the operations the endpoints declare and the same
pydantic models that validate requests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gale_service.models import Problem

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
    """One method of one path, as its endpoint declares it (the path is the endpoint's)."""

    method: str
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


IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": r'^(\*|(W/)?"[^"\s]*"(\s*,\s*(W/)?"[^"\s]*")*)$'},
    "description": "Apply only if the document is still at this (strong) ETag; malformed: 400.",
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


def _component_models(operations: Iterable[Operation]) -> list[type[BaseModel]]:
    """Every model an operation names, and Problem (every error's body): derived, so a new
    operation can never reference a schema the document lacks."""
    found: set[type[BaseModel]] = {Problem}
    for op in operations:
        found.update(model for model in (op.request, op.response) if model is not None)
        found.update(model for _, model, _ in op.answers)
    return sorted(found, key=lambda model: model.__name__)


def openapi_document(
    operations: Sequence[tuple[str, Operation]], *, title: str, version: str
) -> dict[str, Any]:
    """The whole document for ``(path, operation)`` pairs."""
    models = _component_models(op for _, op in operations)
    _, schemas = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for path, op in operations:
        paths.setdefault(path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }
