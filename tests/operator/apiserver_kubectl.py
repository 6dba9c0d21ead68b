"""What kubectl 1.32 asks of an API server beyond objects: OpenAPI v3 and Table output.

- ``/openapi/v3`` lists one document per group-version; each declares, for every resource,
  a PATCH operation with the ``fieldValidation`` query parameter and the resource's
  ``x-kubernetes-group-version-kind``. That is how kubectl decides the server validates
  fields itself (so it does not need the OpenAPI v2 document for client-side validation).
  The emulator accepts ``fieldValidation`` and, like a server with no schema, checks nothing.
- ``Accept: application/json;as=Table;g=meta.k8s.io;v=v1`` gets a ``meta.k8s.io/v1`` Table:
  Name, the CRD's ``additionalPrinterColumns`` (JSONPath subset: ``.a.b``,
  ``.a[0]``, ``.a[?(@.k=="v")].b``) and Age, as ``kubectl get`` prints it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any

Json = dict[str, Any]
_STEP = re.compile(r'\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_-]+)=="([^"]*)"\)\]')


def openapi_root(group_versions: Iterable[str]) -> Json:
    paths = {}
    for gv in sorted(set(group_versions)):
        prefix = f"api/{gv}" if "/" not in gv else f"apis/{gv}"
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}"}
    return {"paths": paths}


def openapi_document(prefix: str, resources: Iterable[tuple[str, str, str, str, bool]]) -> Json:
    """``resources``: (group, version, kind, plural, namespaced), all under ``prefix``."""
    paths: Json = {}
    for group, version, kind, plural, namespaced in resources:
        scope = "/namespaces/{namespace}" if namespaced else ""
        path = f"/{prefix}{scope}/{plural}/{{name}}"
        gvk = {"group": group, "version": version, "kind": kind}
        parameters = [
            {"name": name, "in": "query", "schema": {"type": "string"}}
            for name in ("fieldValidation", "fieldManager", "dryRun")
        ]
        operation = {"x-kubernetes-group-version-kind": gvk, "parameters": parameters}
        paths[path] = {"get": operation, "patch": operation, "put": operation}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (emulated)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def jsonpath(obj: Any, expression: str) -> Any:
    """Evaluate the printer-column JSONPath subset; ``None`` when nothing matches."""
    value = obj
    position = 0
    while position < len(expression):
        match = _STEP.match(expression, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath {expression!r}")
        position = match.end()
        field, index, key, wanted = match.groups()
        if field is not None:
            value = value.get(field) if isinstance(value, Mapping) else None
        elif index is not None:
            value = (
                value[int(index)] if isinstance(value, list) and len(value) > int(index) else None
            )
        else:
            found = [
                item
                for item in value or []
                if isinstance(item, Mapping) and str(item.get(key)) == wanted
            ]
            value = found[0] if found else None
        if value is None:
            return None
    return value


def _age(timestamp: str | None, now: datetime.datetime) -> str:
    if not timestamp:
        return "<unknown>"
    created = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC
    )
    seconds = max(0, int((now - created).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def table(objects: list[Json], columns: list[Json], *, resource_version: str) -> Json:
    """A ``meta.k8s.io/v1`` Table of ``objects`` with a CRD's printer ``columns``."""
    now = datetime.datetime.now(datetime.UTC)
    extra = [c for c in columns if c.get("jsonPath") != ".metadata.creationTimestamp"]
    definitions = [
        {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
        *(
            {
                "name": c["name"],
                "type": c.get("type", "string"),
                "format": "",
                "description": c.get("description", ""),
                "priority": c.get("priority", 0),
            }
            for c in extra
        ),
        {"name": "Age", "type": "date", "format": "", "description": "", "priority": 0},
    ]
    rows = []
    for obj in objects:
        meta = obj["metadata"]
        cells: list[Any] = [meta["name"]]
        for column in extra:
            value = jsonpath(obj, column["jsonPath"])
            cells.append(value if value is not None else None)
        cells.append(_age(meta.get("creationTimestamp"), now))
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
        }
        rows.append({"cells": cells, "object": partial})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
