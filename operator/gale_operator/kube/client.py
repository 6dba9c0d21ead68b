"""A small asynchronous Kubernetes client addressed by :class:`~gale_operator.core.kinds.Kind`.

Built on kubernetes_asyncio's ``ApiClient`` (aiohttp underneath), so no call ever blocks
kopf's event loop; one generic path serves core kinds and custom resources alike, which
keeps every request the operator makes visible in ``core.kinds``.

Every request is retried on what a real API server answers under load or during an
upgrade (429, 5xx, a dropped connection, a timeout): capped exponential backoff with full
jitter, a ``Retry-After`` honoured. Every write names the field manager ``gale-operator``.
Reads of the kinds in ``cached`` (Secrets) are served from a write-through cache for a
while, so a quiet cluster is not read on every pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, cast

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException

from gale_operator.core.kinds import Kind

MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "gale-operator"
USER_AGENT = "gale-operator/0.1"
#: Statuses worth another attempt: throttled, or the server (or a proxy) failing for now.
RETRIABLE = frozenset({429, 500, 502, 503, 504})


def _env_proxy(server: str) -> str | None:
    """The proxy the environment (``HTTPS_PROXY``, ``NO_PROXY``...) names for ``server``."""
    url = urllib.parse.urlsplit(server)
    if urllib.request.proxy_bypass(url.hostname or ""):
        return None
    return urllib.request.getproxies().get(url.scheme)


def backoff_delays(
    *, attempts: int = 5, base: float = 0.2, cap: float = 5.0, rng: random.Random | None = None
) -> list[float]:
    """Full-jitter exponential delays: the n-th is uniform in [0, min(cap, base * 2**n)]."""
    pick = (rng or random).uniform
    return [pick(0.0, min(cap, base * 2**n)) for n in range(attempts - 1)]


class ApiError(Exception):
    """An API request failed; ``status`` is the HTTP status, ``reason`` the API's reason."""

    def __init__(
        self, status: int, reason: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Worth retrying as is: throttling, a server error, or no answer at all (0)."""
        return self.status in RETRIABLE or self.status == 0

    @classmethod
    def from_exception(cls, exc: ApiException) -> ApiError:
        reason, message = str(exc.reason or ""), str(exc.body or "")
        try:
            payload = json.loads(exc.body or "{}")
            reason = str(payload.get("reason") or reason)
            message = str(payload.get("message") or message)
        except ValueError:
            pass
        retry_after: float | None = None
        headers: Mapping[str, str] = exc.headers or {}
        with contextlib.suppress(TypeError, ValueError):
            retry_after = float(headers.get("Retry-After", ""))
        return cls(int(exc.status or 0), reason, message[:300], retry_after=retry_after)


class KubeClient:
    """Get, create, patch and delete objects; discover API groups."""

    def __init__(
        self,
        api: k8s.ApiClient,
        *,
        attempts: int = 5,
        cached: Iterable[Kind] = (),
        cache_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._api = api
        self._api.user_agent = USER_AGENT
        self._attempts = attempts
        self._sleep = sleep
        self._cached = frozenset(cached)
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._reading: dict[str, asyncio.Future[dict[str, Any] | None]] = {}

    @classmethod
    async def connect(cls, **options: Any) -> KubeClient:
        """In a pod use its service account; elsewhere the kubeconfig (``KUBECONFIG``)."""
        configuration = k8s.Configuration()
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            await k8s_config.load_kube_config(client_configuration=configuration)
        if configuration.proxy is None:
            configuration.proxy = _env_proxy(configuration.host or "")
        api = k8s.ApiClient(configuration=configuration)
        # The environment's proxy is resolved once, above: with trust_env aiohttp would look
        # it up again in a worker thread on every request (a fifth of the client's CPU).
        api.rest_client.pool_manager._trust_env = False
        return cls(api, **options)

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
        """One request, retried while the failure is transient (see :data:`RETRIABLE`)."""
        delays = backoff_delays(attempts=self._attempts)
        while True:
            try:
                return await self._call_once(method, path, body, content_type, query or [])
            except ApiError as exc:
                if not exc.transient or not delays:
                    raise
                delay = delays.pop(0)
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                await self._sleep(delay)

    async def _call_once(
        self,
        method: str,
        path: str,
        body: Any,
        content_type: str,
        query: list[tuple[str, str]],
    ) -> dict[str, Any]:
        if method in {"POST", "PATCH", "PUT"}:
            query = [*query, ("fieldManager", FIELD_MANAGER)]
        try:
            result = await self._api.call_api(
                path,
                method,
                query_params=query,
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
            )
        except ApiException as exc:
            raise ApiError.from_exception(exc) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(0, type(exc).__name__, str(exc) or "no answer") from None
        return cast(dict[str, Any], result or {})

    def _cache_key(self, kind: Kind, namespace: str | None, name: str) -> str | None:
        return kind.path(namespace=namespace, name=name) if kind in self._cached else None

    def _remember(self, kind: Kind, obj: Mapping[str, Any] | None) -> None:
        if obj is None or kind not in self._cached:
            return
        meta = obj.get("metadata") or {}
        key = self._cache_key(kind, meta.get("namespace"), str(meta.get("name")))
        if key is not None:
            self._cache[key] = (time.monotonic(), dict(obj))

    async def get(self, kind: Kind, *, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or ``None`` if it does not exist (absence is never cached).

        Concurrent reads of one cached object share one request: after a start-up or a
        relist, every Microservice of a namespace asks for the same Secret at once.
        """
        key = self._cache_key(kind, namespace, name)
        if key is None:
            return await self._read(kind, namespace=namespace, name=name)
        if key in self._cache:
            at, obj = self._cache[key]
            if time.monotonic() - at < self._cache_seconds:
                return obj
            del self._cache[key]
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read(kind, namespace=namespace, name=name))
            self._reading[key] = reading
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        return await asyncio.shield(reading)

    async def _read(self, kind: Kind, *, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = await self._call("GET", kind.path(namespace=namespace, name=name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        self._remember(kind, found)
        return found

    async def list_objects(
        self, kind: Kind, *, namespace: str | None = None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        """The objects of ``kind`` (in ``namespace``, or all) matching ``label_selector``."""
        query = [("labelSelector", label_selector)] if label_selector else []
        listing = await self._call("GET", kind.path(namespace=namespace), query=query)
        return list(listing.get("items") or [])

    async def create(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        namespace = body["metadata"].get("namespace")
        created = await self._call("POST", kind.path(namespace=namespace), body=dict(body))
        self._remember(kind, created)
        return created

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
        patched = await self._call("PATCH", path, body=dict(patch), content_type=MERGE_PATCH)
        self._remember(kind, patched)
        return patched

    async def delete(self, kind: Kind, *, namespace: str, name: str) -> bool:
        """Delete in the background (dependents by garbage collection); ``False`` if gone."""
        key = self._cache_key(kind, namespace, name)
        if key is not None:
            self._cache.pop(key, None)
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
