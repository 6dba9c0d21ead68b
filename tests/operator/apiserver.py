"""An emulated Kubernetes API server for tests and the playground: kmock 0.8, plus what kopf needs.

Plain :class:`kmock.KubernetesEmulator` stores objects as JSON and merges patches. A real
API server also does the following, which kopf and the operator rely on; this subclass adds
exactly that and nothing more:

- ``uid``, ``resourceVersion``, ``generation``, ``creationTimestamp`` on create; a new
  ``resourceVersion`` on every change and a new ``generation`` when the ``spec`` changes;
  ``metadata.generateName``; status and spec kept apart by the ``status`` subresource;
- ``kind``/``apiVersion``/``resourceVersion`` on list responses, and watches that honour
  ``resourceVersion`` (replaying later events from a log) and ``timeoutSeconds``;
- 422 (not 500) when a JSON-patch ``test`` fails; ``reason: NotFound``/``AlreadyExists``;
  409 ``Conflict`` for a merge patch whose ``metadata.resourceVersion`` is not the current one;
- a posted CRD registers its resource in discovery; the Microservice ``scale``
  subresource; the ``namespaces`` resource (kmock 0.8 answers 500 on ``/api/v1/namespaces``).

Still absent, so neither tests nor the operator may rely on them: server-side apply, PUT,
label/field selectors, schema validation and defaulting, garbage collection.

Run standalone with ``python -m tests.operator.apiserver --port PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import copy
import datetime
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock
from kmock._internal import rendering

Json = dict[str, Any]

#: Built-in resources the operator and kopf use: plural -> (api version, kind, namespaced).
BUILTINS: dict[str, tuple[str, str, bool]] = {
    "configmaps": ("v1", "ConfigMap", True),
    "secrets": ("v1", "Secret", True),
    "services": ("v1", "Service", True),
    "events": ("v1", "Event", True),
    "deployments": ("apps/v1", "Deployment", True),
    "poddisruptionbudgets": ("policy/v1", "PodDisruptionBudget", True),
    "horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscaler", True),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy", True),
    "customresourcedefinitions": ("apiextensions.k8s.io/v1", "CustomResourceDefinition", False),
}
VERBS = ("get", "list", "watch", "create", "patch", "delete")
NAMESPACES = kmock.resource("v1/namespaces")
_NAMESPACES = re.compile(r"^/api/v1/namespaces(?:/(?P<name>[^/]+))?/?$")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> aiohttp.web.Response:
    body = {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
    return aiohttp.web.json_response(body, status=code)


@attrs.define(kw_only=True)
class ApiServer(kmock.KubernetesEmulator):
    """The emulator; ``objects`` (kmock's store, with history) is there for assertions."""

    _revision: int = attrs.field(default=0, init=False)
    _log: list[tuple[int, kmock.resource, Json]] = attrs.field(factory=list, init=False)
    _changed: asyncio.Condition = attrs.field(factory=asyncio.Condition, init=False)
    _kinds: dict[kmock.resource, tuple[str, bool, set[str]]] = attrs.field(factory=dict, init=False)
    #: Namespace objects by name; ``default`` and ``kube-system`` are added at start.
    namespaces: dict[str, Json] = attrs.field(factory=dict, init=False)
    access_log: bool = False

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for plural, (api_version, kind, namespaced) in BUILTINS.items():
            self.register(
                kmock.resource(f"{api_version}/{plural}"), kind=kind, namespaced=namespaced
            )
        for name in ("default", "kube-system"):
            self.namespaces[name] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "status": {"phase": "Active"},
                "metadata": {"name": name, "uid": str(uuid.uuid4()), "resourceVersion": "0"},
            }
        # Served by _serve_namespaces; kopf waits for it in discovery even when cluster-wide.
        self.resources[NAMESPACES] = kmock.ResourceInfo(
            kind="Namespace", namespaced=False, verbs={"get", "list", "watch"}, singular="namespace"
        )

    def register(
        self,
        res: kmock.resource,
        *,
        kind: str,
        namespaced: bool,
        subresources: set[str] | None = None,
        shortnames: set[str] | None = None,
    ) -> None:
        """Serve ``res`` in discovery and accept its objects."""
        self._kinds[res] = (kind, namespaced, set(subresources or ()))
        self.resources[res] = kmock.ResourceInfo(
            kind=kind,
            namespaced=namespaced,
            verbs=set(VERBS),
            singular=kind.lower(),
            shortnames=shortnames or set(),
            subresources=subresources or set(),
        )

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, kmock.KubernetesNotFoundError):  # kmock says e.g. "Resource Not Found"
            return _status(404, "NotFound", exc.message)
        return await super()._render_error(exc)

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if self.access_log:  # at the start: watches only end when the client goes away
            entry = {
                "agent": raw.headers.get("User-Agent", ""),
                "method": raw.method,
                "path": raw.path,
                "query": dict(raw.query),
            }
            print(json.dumps(entry), flush=True)
        match = _NAMESPACES.match(raw.path)
        if match and raw.method in {"GET", "POST"}:
            return await self._serve_namespaces(raw, match.group("name"))
        return await super().__call__(raw)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        res = request.resource
        if res is None or res.plural is None:
            return await kmock.KubernetesScaffold._handle(self, request)  # discovery
        if res not in self._kinds:
            return _status(404, "NotFound", f"the server could not find the resource {res.plural}")
        try:
            return await self._serve_object(request, res)
        except jsonpatch.JsonPatchTestFailed as exc:
            return _status(422, "Invalid", f"the JSON patch test failed: {exc}")
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, ValueError) as exc:
            return _status(422, "Invalid", f"the patch cannot be applied: {exc}")

    async def _serve_object(self, request: rendering.Request, res: kmock.resource) -> Any:
        method, sub = request.method.value, request.subresource or ""
        namespace, name = request.namespace, request.name
        if method == "GET" and request.params.get("watch") in {"true", "1"}:
            return await self._serve_watch_stream(request, res)
        if method == "GET" and name is None:
            return aiohttp.web.json_response(self._list(res, namespace))
        if method == "POST" and name is None:
            return await self._create(res, namespace, dict(request.data or {}))
        key = (res, namespace, name)
        if key not in self._objects or self._objects[key].deleted:
            what = f"{res.plural} {name!r}"
            return _status(404, "NotFound", f"{what} not found")
        if method == "GET":
            obj = self._objects[key].raw
            return aiohttp.web.json_response(self._scale(obj) if sub == "scale" else obj)
        if method == "PATCH":
            return await self._patch(key, request.data, subresource=sub)
        if method == "DELETE":
            return await self._delete(key)
        return _status(405, "MethodNotAllowed", f"{method} is not supported by this emulator")

    # Writes -------------------------------------------------------------------------------

    async def _commit(self, res: kmock.resource, event_type: str, obj: Json) -> None:
        async with self._changed:
            self._log.append(
                (int(obj["metadata"]["resourceVersion"]), res, {"type": event_type, "object": obj})
            )
            self._changed.notify_all()

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    async def _create(self, res: kmock.resource, namespace: str | None, obj: Json) -> Any:
        kind, namespaced, subresources = self._kinds[res]
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            return _status(422, "Invalid", "metadata.name or metadata.generateName is required")
        if namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
            await self._add_namespace(meta["namespace"])
        key = (res, meta.get("namespace") if namespaced else None, meta["name"])
        if key in self._objects and not self._objects[key].deleted:
            return _status(409, "AlreadyExists", f"{res.plural} {meta['name']!r} already exists")
        obj.setdefault("apiVersion", f"{res.group}/{res.version}" if res.group else res.version)
        obj.setdefault("kind", kind)
        meta.update(
            uid=str(uuid.uuid4()),
            resourceVersion=self._next_revision(),
            generation=1,
            creationTimestamp=_now(),
        )
        if "status" in subresources:
            obj.pop("status", None)
        if key in self._objects:
            self._objects[key].create(obj)
        else:
            self._objects[key] = obj
        if res.plural == "customresourcedefinitions":
            self._register_crd(obj)
        await self._commit(res, "ADDED", copy.deepcopy(obj))
        return aiohttp.web.json_response(obj, status=201)

    async def _patch(self, key: tuple[Any, ...], patch: Any, *, subresource: str) -> Any:
        res = key[0]
        current = copy.deepcopy(self._objects[key].raw)
        subresources = self._kinds[res][2]
        # A merge patch naming a resourceVersion applies only to that version (optimistic lock).
        expected = ((patch or {}).get("metadata") or {}) if isinstance(patch, dict) else {}
        if expected.get("resourceVersion") not in {None, current["metadata"]["resourceVersion"]}:
            return _status(409, "Conflict", "the object has been modified; apply to the latest")
        scale = subresource == "scale"
        if scale:
            replicas = ((patch or {}).get("spec") or {}).get("replicas")
            patch = {"spec": {"replicas": replicas}}
            subresource = ""
        obj = kmock.Object(copy.deepcopy(current))
        obj.patch(patch)
        new = copy.deepcopy(obj.raw)
        if subresource == "status":  # only the status changes through /status
            new = {**current, "status": new.get("status")}
        elif "status" in subresources:  # and never through the main resource
            new["status"] = current.get("status")
            if new["status"] is None:
                del new["status"]
        if new == current:
            return aiohttp.web.json_response(current)
        meta = new["metadata"]
        for field in ("uid", "creationTimestamp", "name", "namespace"):
            if field in current["metadata"]:
                meta[field] = current["metadata"][field]
        meta["resourceVersion"] = self._next_revision()
        if new.get("spec") != current.get("spec"):
            meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._objects[key].patch(new)
            self._objects[key].delete()
            await self._commit(res, "DELETED", new)
            return aiohttp.web.json_response(new)
        self._objects[key].create(new)
        await self._commit(res, "MODIFIED", copy.deepcopy(new))
        return aiohttp.web.json_response(self._scale(new) if scale else new)

    async def _delete(self, key: tuple[Any, ...]) -> Any:
        res = key[0]
        obj = copy.deepcopy(self._objects[key].raw)
        meta = obj["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta.update(
                    deletionTimestamp=_now(),
                    deletionGracePeriodSeconds=0,
                    resourceVersion=self._next_revision(),
                )
                self._objects[key].create(obj)
                await self._commit(res, "MODIFIED", copy.deepcopy(obj))
            return aiohttp.web.json_response(obj, status=202)
        meta["resourceVersion"] = self._next_revision()
        self._objects[key].delete()
        await self._commit(res, "DELETED", obj)
        return aiohttp.web.json_response(obj)

    def _register_crd(self, crd: Json) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        for version in spec.get("versions") or []:
            subresources = set((version.get("subresources") or {}).keys())
            self.register(
                kmock.resource(spec["group"], version["name"], names["plural"]),
                kind=names["kind"],
                namespaced=spec.get("scope") == "Namespaced",
                subresources=subresources,
                shortnames=set(names.get("shortNames") or ()),
            )

    # Reads --------------------------------------------------------------------------------

    def _list(self, res: kmock.resource, namespace: str | None) -> Json:
        kind = self._kinds[res][0]
        items = [
            obj.raw
            for (r, ns, _), obj in self._objects.items()
            if r == res and not obj.deleted and (namespace is None or ns == namespace)
        ]
        return {
            "apiVersion": f"{res.group}/{res.version}" if res.group else res.version,
            "kind": f"{kind}List",
            "metadata": {"resourceVersion": str(self._revision)},
            "items": items,
        }

    @staticmethod
    def _scale(obj: Json) -> Json:
        meta = obj["metadata"]
        return {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": (obj.get("status") or {}).get("selector", ""),
            },
        }

    async def _serve_watch_stream(self, request: rendering.Request, res: kmock.resource) -> Any:
        assert request._raw_request is not None
        since = request.params.get("resourceVersion") or ""
        timeout = float(request.params.get("timeoutSeconds") or 3600)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request._raw_request)
        if since.isdigit() and since != "0":  # "0" means "any version": the current state
            cursor = int(since)
        else:  # no resourceVersion: start with the current state, as ADDED events
            cursor = self._revision
            for item in self._list(res, request.namespace)["items"]:
                await response.write(json.dumps({"type": "ADDED", "object": item}).encode() + b"\n")
        async for event in self._events_after(cursor, res, request.namespace, timeout=timeout):
            await response.write(json.dumps(event).encode() + b"\n")
        await response.write_eof()
        return response

    async def _events_after(
        self, cursor: int, res: kmock.resource, namespace: str | None, *, timeout: float
    ) -> AsyncIterator[Json]:
        """Events after resourceVersion ``cursor``, then live ones, until ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        position = bisect.bisect_right([rv for rv, _, _ in self._log], cursor)
        while True:
            while position < len(self._log):
                _, r, event = self._log[position]
                position += 1
                if r == res and (
                    namespace is None or event["object"]["metadata"].get("namespace") == namespace
                ):
                    yield event
            # The predicate is checked under the lock: a commit made while the last event was
            # being written cannot be missed.
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: position < len(self._log)),  # noqa: B023
                        timeout=deadline - loop.time(),
                    )
                except TimeoutError:
                    return

    async def _add_namespace(self, name: str) -> None:
        """Namespaces come into being with their first object (or a POST), with a watch event."""
        if name in self.namespaces:
            return
        self.namespaces[name] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": str(uuid.uuid4()),
                "resourceVersion": self._next_revision(),
                "creationTimestamp": _now(),
            },
            "status": {"phase": "Active"},
        }
        await self._commit(NAMESPACES, "ADDED", self.namespaces[name])

    async def _serve_namespaces(self, raw: aiohttp.web.BaseRequest, name: str | None) -> Any:
        if raw.method == "POST" and name is None:
            created = (await raw.json()).get("metadata", {}).get("name")
            if not created or created in self.namespaces:
                return _status(409, "AlreadyExists", f"namespaces {created!r} already exists")
            await self._add_namespace(created)
            return aiohttp.web.json_response(self.namespaces[created], status=201)
        if name is not None:
            if name not in self.namespaces:
                return _status(404, "NotFound", f"namespaces {name!r} not found")
            return aiohttp.web.json_response(self.namespaces[name])
        if raw.query.get("watch") not in {"true", "1"}:
            return aiohttp.web.json_response(
                {
                    "apiVersion": "v1",
                    "kind": "NamespaceList",
                    "metadata": {"resourceVersion": str(self._revision)},
                    "items": [self.namespaces[ns] for ns in sorted(self.namespaces)],
                }
            )
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw)
        since = raw.query.get("resourceVersion") or ""
        cursor = int(since) if since.isdigit() and since != "0" else 0
        timeout = float(raw.query.get("timeoutSeconds") or 3600)
        async for event in self._events_after(cursor, NAMESPACES, None, timeout=timeout):
            await response.write(json.dumps(event).encode() + b"\n")
        await response.write_eof()
        return response


async def serve(port: int, *, access_log: bool = False) -> None:
    """Serve the emulator on 127.0.0.1:``port`` until cancelled."""
    async with ApiServer(access_log=access_log) as server, kmock.Server(server, port=port):
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="An emulated Kubernetes API server (kmock).")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--access-log", action="store_true", help="print each request as a JSON line"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, access_log=args.access_log))


if __name__ == "__main__":
    main()
