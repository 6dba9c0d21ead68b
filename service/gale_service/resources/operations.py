"""A resource's OpenAPI operations, derived from its declaration: the same wording, parameters
and error answers for every resource."""

from __future__ import annotations

from typing import Any

from gale_service.models import ImportResult
from gale_service.openapi import BODY_ERRORS, IF_MATCH, STALE, Operation
from gale_service.resource import Resource


def _title(word: str) -> str:
    return word[:1].upper() + word[1:]


def _not_found(resource: Resource) -> dict[str, str]:
    singular = resource.singular
    return {
        "404": f"No {singular} with this id that the caller may see (another user's {singular} "
        "answers 404 too, so ids cannot be probed; malformed ids included)."
    }


def _id(resource: Resource) -> dict[str, Any]:
    return {
        "name": resource.id_parameter,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }


def collection_operations(resource: Resource) -> tuple[Operation, ...]:
    """``POST`` and ``GET`` of ``/api/v1/<name>``."""
    singular, plural = _title(resource.singular), _title(resource.name)
    tag = (
        ({"name": "tag", "in": "query", "required": False, "schema": {"type": "string"}},)
        if resource.tags is not None
        else ()
    )
    return (
        Operation(
            "post",
            f"create{singular}",
            f"Create {resource.article} {resource.singular}",
            resource.write,
            response=resource.public,
            status="201",
            errors=BODY_ERRORS,
        ),
        Operation(
            "get",
            f"list{plural}",
            f"List {resource.name}, oldest first",
            response=resource.page,
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
                *tag,
            ),
            errors={"400": "A bad limit or a cursor this service did not issue."},
        ),
    )


def document_operations(resource: Resource) -> tuple[Operation, ...]:
    """``GET``, ``PUT``, ``PATCH`` and ``DELETE`` of ``/api/v1/<name>/{<singular>_id}``."""
    singular, a = _title(resource.singular), f"{resource.article} {resource.singular}"
    not_found, document_id = _not_found(resource), _id(resource)
    return (
        Operation(
            "get",
            f"get{singular}",
            f"Read {a}",
            response=resource.public,
            parameters=(
                document_id,
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                },
            ),
            errors={**not_found, "304": "Not modified since the given ETag."},
        ),
        Operation(
            "put",
            f"replace{singular}",
            f"Replace {a}",
            resource.write,
            response=resource.public,
            parameters=(document_id, IF_MATCH),
            errors={**BODY_ERRORS, **not_found, **STALE},
        ),
        Operation(
            "patch",
            f"patch{singular}",
            f"Merge-patch {a}",
            resource.patch,
            request_media="application/merge-patch+json",
            response=resource.public,
            parameters=(document_id, IF_MATCH),
            errors={**BODY_ERRORS, **not_found, **STALE},
        ),
        Operation(
            "delete",
            f"delete{singular}",
            f"Delete {a}",
            status="204",
            parameters=(document_id, IF_MATCH),
            errors={**not_found, **STALE},
        ),
    )


def export_operations(resource: Resource) -> tuple[Operation, ...]:
    return (
        Operation(
            "get",
            f"export{_title(resource.name)}",
            f"Every {resource.singular} as NDJSON",
            response=resource.public,
            response_media="application/x-ndjson",
        ),
    )


def import_operations(resource: Resource) -> tuple[Operation, ...]:
    return (
        Operation(
            "post",
            f"import{_title(resource.name)}",
            f"Create many {resource.name} from NDJSON, one {resource.restore.__name__} per line, "
            "all or nothing. An export imports back unchanged (ids, owners, timestamps, "
            "versions). A line without owner is the caller's; only an admin may name another "
            "owner.",
            resource.restore,
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
    )
