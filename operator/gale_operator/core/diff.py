"""What differs between a desired object and the observed one, as a minimal merge patch.

The API server and other controllers add fields the operator never sets (defaults, status,
annotations, HPA-managed replicas). Comparing "is desired a subset of observed" leaves
those alone, so an unchanged object costs no write and nobody's field is fought over.

The API server also *drops* fields: the built-in kinds are Go structs serialised with
``omitempty``, so a stored Deployment has no ``paused: false``, an env entry no
``value: ""``, a ConfigMap no ``data: {}``. A desired zero value therefore matches an
absent field (see :func:`omitted_when_stored`); otherwise every pass would see a
difference and patch it again, forever.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from gale_operator.core.quantity import same_quantity

#: Maps whose keys the operator owns exactly: keys it no longer wants are removed.
EXACT_MAPS: frozenset[tuple[str, ...]] = frozenset({("data",)})
#: Maps whose values are resource quantities, which the API server rewrites canonically.
QUANTITY_MAPS: frozenset[str] = frozenset({"requests", "limits"})
#: Map-typed fields (an empty one is omitted; an empty struct such as ``emptyDir`` is not).
MAP_FIELDS: frozenset[str] = frozenset(
    {"labels", "annotations", "data", "binaryData", "matchLabels", "nodeSelector", "selector"}
    | QUANTITY_MAPS
)
#: ``*bool`` fields the operator sets: the server stores their ``false``.
POINTER_BOOLS: frozenset[str] = frozenset(
    {
        "allowPrivilegeEscalation",
        "readOnlyRootFilesystem",
        "runAsNonRoot",
        "automountServiceAccountToken",
        "enableServiceLinks",
        "optional",
    }
)


def omitted_when_stored(key: str, value: Any) -> bool:
    """Whether the API server drops ``key: value`` when it stores a built-in object."""
    if value is None or value == "" or value == []:
        return True
    if value is False:
        return key not in POINTER_BOOLS
    return value == {} and key in MAP_FIELDS


def is_subset(desired: Any, observed: Any, *, quantities: bool = False) -> bool:
    """Whether everything ``desired`` says is already true of ``observed``."""
    if desired == observed:  # in C, and at once for maps of different sizes: the common case
        return True
    if isinstance(desired, Mapping):
        if not isinstance(observed, Mapping):
            return False
        return all(
            is_subset(v, observed[key], quantities=quantities or key in QUANTITY_MAPS)
            if key in observed
            else omitted_when_stored(key, v)
            for key, v in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(observed, list) or len(desired) != len(observed):
            return False
        return all(is_subset(d, o) for d, o in zip(desired, observed, strict=True))
    return quantities and same_quantity(desired, observed)


def merge_patch(
    desired: Mapping[str, Any],
    observed: Mapping[str, Any],
    *,
    path: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The smallest JSON merge patch that makes ``observed`` satisfy ``desired``.

    Lists are replaced whole (merge-patch semantics); maps are recursed into; keys absent
    from ``desired`` are left alone except in :data:`EXACT_MAPS`.
    """
    patch: dict[str, Any] = {}
    for key, want in desired.items():
        if key not in observed and omitted_when_stored(key, want):
            continue
        have = observed.get(key)
        same = is_subset(want, have, quantities=_under_quantities((*path, key)))
        if key in observed and same and (*path, key) not in EXACT_MAPS:
            continue
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            sub = merge_patch(want, have, path=(*path, key))
            if sub:
                patch[key] = sub
        else:
            patch[key] = want
    if path in EXACT_MAPS:
        patch.update({key: None for key in observed if key not in desired})
    return patch


def _under_quantities(path: tuple[str, ...]) -> bool:
    """Whether ``path`` is (inside) ``resources.requests`` or ``resources.limits``."""
    return any(
        first == "resources" and second in QUANTITY_MAPS
        for first, second in itertools.pairwise(path)
    )


def spec_patch(desired: Mapping[str, Any], observed: Mapping[str, Any]) -> dict[str, Any]:
    """The patch for a child: its labels, owner references and content, never its status."""
    body = {key: value for key, value in desired.items() if key not in {"apiVersion", "kind"}}
    meta = body.pop("metadata", {})
    wanted = {
        "metadata": {k: meta[k] for k in ("labels", "annotations", "ownerReferences") if k in meta},
        **body,
    }
    return merge_patch(wanted, observed)
