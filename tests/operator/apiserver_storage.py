"""How a real API server stores built-in objects: Go's ``omitempty`` drops zero values.

The built-in kinds are Go structs; serialising a stored object omits every field tagged
``omitempty`` whose value is the zero value. So ``paused: false``, ``value: ""``,
``data: {}`` and ``ports: []`` are gone when the object is read back, while a pointer field
(``allowPrivilegeEscalation: false``, ``replicas: 0``) and an empty struct
(``emptyDir: {}``, ``podSelector: {}``) keep their value. Map entries (labels, ConfigMap
data) are never pruned: an empty string is a value there. A Secret's write-only
``stringData`` is merged into ``data``, base64-encoded, as the API server does.
"""

from __future__ import annotations

import base64
from typing import Any

#: Fields whose type is a map: their entries are values; the map itself goes when empty.
MAP_FIELDS = frozenset(
    {
        "labels",
        "annotations",
        "data",
        "binaryData",
        "stringData",
        "matchLabels",
        "nodeSelector",
        "limits",
        "requests",
    }
)
#: ``*bool`` fields in the kinds the operator writes: ``false`` is stored.
POINTER_BOOLS = frozenset(
    {
        "allowPrivilegeEscalation",
        "readOnlyRootFilesystem",
        "runAsNonRoot",
        "privileged",
        "automountServiceAccountToken",
        "enableServiceLinks",
        "optional",
        "immutable",
        "setHostnameAsFQDN",
        "shareProcessNamespace",
        "allocateLoadBalancerNodePorts",
        "hostUsers",
    }
)
#: Plain ``int32`` fields tagged ``omitempty`` (most counts are pointers and keep a 0).
OMITTED_ZERO_INTS = frozenset({"minReadySeconds", "initialDelaySeconds"})


def _omitted(key: str, value: Any, *, kind: str, path: tuple[str, ...]) -> bool:
    if value is None or value == "" or value == []:
        return True
    if value is False:
        return key not in POINTER_BOOLS
    if value == {}:
        # A Service's spec.selector is a map; a Deployment's is a LabelSelector struct.
        return key in MAP_FIELDS or (kind == "Service" and path == ("spec",) and key == "selector")
    if type(value) is int and value == 0:
        return key in OMITTED_ZERO_INTS
    return False


def stored(obj: dict[str, Any], *, kind: str) -> dict[str, Any]:
    """``obj`` as the API server would store (and return) it."""
    if kind == "Secret" and "stringData" in obj:
        obj = dict(obj)
        plain = obj.pop("stringData") or {}
        encoded = {k: base64.b64encode(str(v).encode()).decode() for k, v in plain.items()}
        obj["data"] = {**(obj.get("data") or {}), **encoded}
    return _prune(obj, kind=kind, path=())


def _prune(obj: dict[str, Any], *, kind: str, path: tuple[str, ...]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in obj.items():
        inner = (*path, key)
        if isinstance(value, dict) and key not in MAP_FIELDS:
            value = _prune(value, kind=kind, path=inner)
        elif isinstance(value, list):
            value = [
                _prune(item, kind=kind, path=inner) if isinstance(item, dict) else item
                for item in value
            ]
        if not _omitted(key, value, kind=kind, path=path):
            result[key] = value
    return result
