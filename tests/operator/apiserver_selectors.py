"""Label and field selectors as the API server parses and applies them.

Label selectors: ``k``, ``!k``, ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
``k notin (a,b)``, joined by commas. Field selectors: ``path=v``, ``path==v``, ``path!=v``
on the fields each kind supports (``metadata.name`` and ``metadata.namespace`` for all,
``involvedObject.*``, ``reason``, ``type`` and ``source`` for Events); any other field is
a 400, as on a real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]

_SET = re.compile(r"^\s*(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQ = re.compile(r"^\s*(?P<key>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s,]*)\s*$")
_EXISTS = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)\s*$")
_EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "type",
        "source",
    }
)


class SelectorError(ValueError):
    """The selector does not parse or names an unsupported field (a 400 on a real server)."""


def _split(text: str) -> list[str]:
    """Split at commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def label_selector(text: str) -> Predicate:
    """A predicate over an object's labels for the selector ``text``."""
    checks: list[Callable[[Mapping[str, str]], bool]] = []
    for term in _split(text):
        if match := _SET.match(term):
            key, values = match["key"], {v.strip() for v in match["values"].split(",")}
            if match["op"] == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif match := _EQ.match(term):
            key, value = match["key"], match["value"]
            if match["op"] == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif match := _EXISTS.match(term):
            key = match["key"]
            if match["neg"]:
                checks.append(lambda labels, k=key: k not in labels)
            else:
                checks.append(lambda labels, k=key: k in labels)
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return matches


def _field(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if path == "source" and isinstance(value, Mapping):
        value = value.get("component")
    return "" if value is None else str(value)


def field_selector(text: str, *, kind: str) -> Predicate:
    """A predicate over an object's fields for the selector ``text``."""
    checks: list[Predicate] = []
    for term in _split(text):
        match = _EQ.match(term)
        if match is None:
            raise SelectorError(f"invalid field selector: {term!r}")
        path, value = match["key"], match["value"]
        supported = path in {"metadata.name", "metadata.namespace"} or (
            kind == "Event" and path in _EVENT_FIELDS
        )
        if not supported:
            raise SelectorError(f'field label not supported: "{path}"')
        if match["op"] == "!=":
            checks.append(lambda obj, p=path, v=value: _field(obj, p) != v)
        else:
            checks.append(lambda obj, p=path, v=value: _field(obj, p) == v)
    return lambda obj: all(check(obj) for check in checks)


def selection(params: Mapping[str, str], *, kind: str) -> Predicate:
    """The request's ``labelSelector`` and ``fieldSelector`` combined; all objects if none."""
    labels = label_selector(params.get("labelSelector") or "")
    fields = field_selector(params.get("fieldSelector") or "", kind=kind)
    return lambda obj: labels(obj) and fields(obj)
