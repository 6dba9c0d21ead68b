"""Names, labels and owner references every child object of a Microservice carries.

One place decides them, so the selector, the index that finds children, and the objects
themselves can never disagree.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gale_operator.core import kinds

#: Identifies the Microservice a child belongs to; part of every selector (immutable).
INSTANCE_LABEL = "gale.dev/microservice"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "gale-operator"
#: Prometheus scrape jobs are named after this label's value (``job="gale"``).
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "gale"
CONFIG_HASH_ANNOTATION = "gale.dev/config-hash"

CONTAINER_NAME = "service"
CONTAINER_PORT = 8888


@dataclasses.dataclass(frozen=True)
class Owner:
    """The Microservice whose children are being built."""

    name: str
    namespace: str
    uid: str

    @property
    def selector(self) -> dict[str, str]:
        return {INSTANCE_LABEL: self.name}

    @property
    def selector_string(self) -> str:
        """The label selector as the scale subresource reports it (``status.selector``)."""
        return ",".join(f"{key}={value}" for key, value in sorted(self.selector.items()))

    @property
    def labels(self) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": self.name,
            "app.kubernetes.io/component": "microservice",
            PART_OF_LABEL: PART_OF,
            MANAGED_BY_LABEL: MANAGED_BY,
            **self.selector,
        }

    @property
    def config_map_name(self) -> str:
        return f"{self.name}-config"

    @property
    def tls_secret_name(self) -> str:
        return f"{self.name}-tls"

    def metadata(self, name: str | None = None) -> dict[str, Any]:
        """Metadata for a child: name, namespace, labels, and the controller owner reference."""
        return {
            "name": name or self.name,
            "namespace": self.namespace,
            "labels": dict(self.labels),
            "ownerReferences": [self.owner_reference()],
        }

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": kinds.MICROSERVICE.api_version,
            "kind": kinds.MICROSERVICE.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def is_owned_by(obj: dict[str, Any], owner: Owner) -> bool:
    """Whether ``obj`` is controlled by this Microservice (and so ours to change or delete)."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(ref.get("uid") == owner.uid and ref.get("controller") for ref in refs)


def service_dns_names(name: str, namespace: str) -> tuple[str, ...]:
    """Every name a client inside the cluster may use to reach the Service ``name``."""
    return (
        name,
        f"{name}.{namespace}",
        f"{name}.{namespace}.svc",
        f"{name}.{namespace}.svc.cluster.local",
    )
