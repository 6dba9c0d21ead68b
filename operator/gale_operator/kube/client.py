"""A small asynchronous Kubernetes client addressed by :class:`~gale_operator.core.kinds.Kind`.

Built on kubernetes_asyncio's ``ApiClient`` (aiohttp underneath), so no call ever blocks
kopf's event loop; one generic path serves core kinds and custom resources alike, which
keeps every request the operator makes visible in ``core.kinds``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, cast

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException

from gale_operator.core.kinds import Kind

MERGE_PATCH = "application/merge-patch+json"


class ApiError(Exception):
    """An API request failed; ``status`` is the HTTP status, ``reason`` the API's reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @classmethod
    def from_exception(cls, exc: ApiException) -> ApiError:
        reason, message = str(exc.reason or ""), str(exc.body or "")
        try:
            payload = json.loads(exc.body or "{}")
            reason = str(payload.get("reason") or reason)
            message = str(payload.get("message") or message)
        except ValueError:
            pass
        return cls(int(exc.status or 0), reason, message[:300])


class KubeClient:
    """Get, create, patch and delete objects; discover API groups."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self._api = api

    @classmethod
    async def connect(cls) -> KubeClient:
        """In a pod use its service account; elsewhere the kubeconfig (``KUBECONFIG``)."""
        configuration = k8s.Configuration()
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            await k8s_config.load_kube_config(client_configuration=configuration)
        return cls(k8s.ApiClient(configuration=configuration))

    async def close(self) -> None:
        await self._api.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        try:
            result = await self._api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
            )
        except ApiException as exc:
            raise ApiError.from_exception(exc) from None
        return cast(dict[str, Any], result or {})

    async def get(self, kind: Kind, *, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or ``None`` if it does not exist."""
        try:
            return await self._call("GET", kind.path(namespace=namespace, name=name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def create(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        namespace = body["metadata"].get("namespace")
        return await self._call("POST", kind.path(namespace=namespace), body=dict(body))

    async def patch(
        self,
        kind: Kind,
        *,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        subresource: str = "",
    ) -> dict[str, Any]:
        """Apply a JSON merge patch; only the keys in ``patch`` are written."""
        path = kind.path(namespace=namespace, name=name, subresource=subresource)
        return await self._call("PATCH", path, body=dict(patch), content_type=MERGE_PATCH)

    async def delete(self, kind: Kind, *, namespace: str, name: str) -> bool:
        """Delete in the background (dependents by garbage collection); ``False`` if gone."""
        try:
            await self._call(
                "DELETE",
                kind.path(namespace=namespace, name=name),
                body={"propagationPolicy": "Background"},
            )
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def serves(self, kind: Kind) -> bool:
        """Whether the API server serves this kind now (e.g. a CRD has been installed)."""
        prefix = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
        try:
            listing = await self._call("GET", prefix)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return any(r.get("name") == kind.plural for r in listing.get("resources") or [])
