"""Every Kubernetes API resource the operator touches, and the verbs it uses on each.

The operator's own code addresses resources only through the :class:`Kind` constants here,
and the Helm chart's RBAC rules are checked against :data:`MANAGED_RESOURCES` and
:data:`FRAMEWORK_RESOURCES`; so the permissions cannot drift from what the code does.
"""

from __future__ import annotations

import dataclasses

GROUP = "gale.dev"
VERSION = "v1alpha1"
FINALIZER = "gale.dev/finalizer"
ANNOTATION_PREFIX = "gale.dev"


@dataclasses.dataclass(frozen=True)
class Kind:
    """One API resource: where it lives in the API and what its objects call themselves."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, *, namespace: str | None = None, name: str | None = None, subresource: str = ""
    ) -> str:
        """The REST path of the collection, or of one object (and its subresource)."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            prefix += f"/namespaces/{namespace}"
        path = f"{prefix}/{self.plural}"
        if name is not None:
            path += f"/{name}"
            if subresource:
                path += f"/{subresource}"
        return path


@dataclasses.dataclass(frozen=True)
class ResourceAccess:
    """An RBAC-shaped permission: verbs on a resource (or subresource) of an API group."""

    group: str
    resource: str
    verbs: tuple[str, ...]


MICROSERVICE = Kind(GROUP, VERSION, "microservices", "Microservice")
DEPLOYMENT = Kind("apps", "v1", "deployments", "Deployment")
SERVICE = Kind("", "v1", "services", "Service")
CONFIGMAP = Kind("", "v1", "configmaps", "ConfigMap")
SECRET = Kind("", "v1", "secrets", "Secret")
PDB = Kind("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
HPA = Kind("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
NETWORK_POLICY = Kind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy")
SERVICE_MONITOR = Kind("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor")
CERTIFICATE = Kind("cert-manager.io", "v1", "certificates", "Certificate")
EVENT = Kind("", "v1", "events", "Event")
NAMESPACE = Kind("", "v1", "namespaces", "Namespace", namespaced=False)
CRD = Kind(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
)

#: The children the operator creates, owns, watches (indexes) and repairs, in apply order:
#: the ConfigMap first so the pods that read it never start without it.
CHILD_KINDS: tuple[Kind, ...] = (
    CONFIGMAP,
    SERVICE,
    DEPLOYMENT,
    PDB,
    HPA,
    NETWORK_POLICY,
    SERVICE_MONITOR,
)

_WATCH = ("get", "list", "watch")
_OWN = (*_WATCH, "create", "patch", "delete")

#: What the operator's own code does.
MANAGED_RESOURCES: tuple[ResourceAccess, ...] = (
    ResourceAccess(GROUP, "microservices", (*_WATCH, "patch")),
    ResourceAccess(GROUP, "microservices/status", ("get", "patch")),
    # Children set blockOwnerDeletion: under OwnerReferencesPermissionEnforcement (on by
    # default on OpenShift) that needs update on the owner's finalizers subresource.
    ResourceAccess(GROUP, "microservices/finalizers", ("update",)),
    *(ResourceAccess(kind.group, kind.plural, _OWN) for kind in CHILD_KINDS),
    # Secrets: read the MongoDB URI reference; write the TLS key pairs (self-signed mode) and
    # delete a serving pair once TLS is turned off or its Microservice goes.
    ResourceAccess(SECRET.group, SECRET.plural, ("get", "create", "patch", "delete")),
    ResourceAccess(CERTIFICATE.group, CERTIFICATE.plural, ("get", "create", "patch", "delete")),
)

#: What kopf itself needs: event posting, resource discovery, namespace watching.
FRAMEWORK_RESOURCES: tuple[ResourceAccess, ...] = (
    ResourceAccess(EVENT.group, EVENT.plural, ("create",)),
    ResourceAccess(CRD.group, CRD.plural, _WATCH),
    ResourceAccess(NAMESPACE.group, NAMESPACE.plural, ("list", "watch")),
)

PEERING = Kind("kopf.dev", "v1", "kopfpeerings", "KopfPeering")
CLUSTER_PEERING = Kind(
    "kopf.dev", "v1", "clusterkopfpeerings", "ClusterKopfPeering", namespaced=False
)

#: Only when ``--peering NAME`` is given: kopf's peering object, the cluster-wide one when
#: watching all namespaces, else one in each watched namespace.
CLUSTER_PEERING_RESOURCES: tuple[ResourceAccess, ...] = (
    ResourceAccess(
        CLUSTER_PEERING.group, CLUSTER_PEERING.plural, ("get", "list", "watch", "patch")
    ),
)
NAMESPACED_PEERING_RESOURCES: tuple[ResourceAccess, ...] = (
    ResourceAccess(PEERING.group, PEERING.plural, ("get", "list", "watch", "patch")),
)
PEERING_RESOURCES = CLUSTER_PEERING_RESOURCES + NAMESPACED_PEERING_RESOURCES

#: Resources that are cluster-scoped, so an RBAC rule for them needs a ClusterRole.
CLUSTER_SCOPED: frozenset[str] = frozenset({CRD.plural, NAMESPACE.plural, "clusterkopfpeerings"})
