"""Parsing and validating an NDJSON import: CPU-bound pure Python, so it runs in the ``cpu``
process pool (:mod:`gale_service.executors`) where it cannot stall the event loop.

Module-level and free of service state on purpose: the pool's workers are spawned processes
that import this module and receive only the request body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

#: One import is one transaction; this keeps it well inside MongoDB's limits.
MAX_IMPORT_LINES = 1000


@dataclass(frozen=True)
class ParsedImport:
    """Valid documents, or what is wrong with the lines that are not (``field`` names the
    line). ``lines`` holds the line number of each one, for errors found later (ownership)."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    broken: list[dict[str, str]] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)


def parse_lines(
    body: bytes, model: type[BaseModel], *, max_lines: int = MAX_IMPORT_LINES
) -> ParsedImport:
    """One ``model`` (a resource's import model, importable by the pool's workers) per
    non-blank line; every bad line reported. Fields a line leaves out are left out of its
    document (not ``None``).

    ``broken`` lines are not JSON (the request is a 400); ``invalid`` ones are JSON that breaks
    the schema or repeat an earlier line's id (a 422).
    """
    parsed = ParsedImport()
    lines = [(n, line.strip()) for n, line in enumerate(body.split(b"\n"), start=1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines:
        parsed.invalid.append(
            {"field": "(body)", "message": "nothing to import: send one JSON per line"}
        )
    if len(lines) > max_lines:
        parsed.invalid.append(
            {"field": "(body)", "message": f"{len(lines)} lines; at most {max_lines} per import"}
        )
        return parsed
    seen: dict[str, int] = {}
    for number, line in lines:
        try:
            data = json.loads(line)
        except ValueError as error:
            parsed.broken.append({"field": f"line {number}", "message": f"not JSON: {error}"})
            continue
        except RecursionError:
            # Caught here, in the worker: the pool would hand the handler a bare RuntimeError.
            parsed.broken.append({"field": f"line {number}", "message": "nested too deeply"})
            continue
        try:
            document = model.model_validate(data).model_dump(exclude_none=True)
        except ValidationError as error:
            parsed.invalid.extend(
                {
                    "field": ".".join([f"line {number}", *(str(p) for p in problem["loc"])]),
                    "message": problem["msg"],
                }
                for problem in error.errors()
            )
            continue
        document_id = document.get("id")
        first = number if document_id is None else seen.setdefault(document_id, number)
        if first != number:
            parsed.invalid.append(
                {"field": f"line {number}.id", "message": f"repeats the id of line {first}"}
            )
            continue
        parsed.documents.append(document)
        parsed.lines.append(number)
    return parsed
