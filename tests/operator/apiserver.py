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

- built-in objects stored as Go stores them, zero values dropped (``apiserver_storage``);
- label and field selectors on lists and watches (``apiserver_selectors``), an object that
  stops (starts) matching arriving as DELETED (ADDED);
- watch gaps: ``POST /_emulator/watches/close`` ends every open watch and holds new ones,
  ``POST /_emulator/watches/expire`` compacts the history and releases them, so the resume
  is answered ``410 Gone`` (an ERROR event, ``reason: Expired``) and the client must relist;
- injected faults on any request pattern (``apiserver_faults``, ``/_emulator/faults``);
- ``metadata.managedFields``: one entry per manager (the ``fieldManager`` parameter, else
  the User-Agent up to its first ``/``) and subresource, with the time of its last write;
- what kubectl 1.32 needs (``apiserver_kubectl``): OpenAPI v3 declaring server-side field
  validation, and Table output with a CRD's printer columns;
- garbage collection of objects with ``ownerReferences``, with ``Background``,
  ``Foreground`` and ``Orphan`` propagation (the ``orphan`` and ``foregroundDeletion``
  finalizers), run asynchronously as the real collector does.

Still absent, so neither tests nor the operator may rely on them: server-side apply, PUT,
schema validation and defaulting.

Run standalone with ``python -m tests.operator.apiserver --port PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import contextvars
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

from tests.operator.apiserver_faults import REASONS, Faults
from tests.operator.apiserver_kubectl import openapi_document, openapi_root, table, wants_table
from tests.operator.apiserver_selectors import Predicate, SelectorError, selection
from tests.operator.apiserver_storage import stored

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
#: The field manager of the request being served.
_MANAGER: contextvars.ContextVar[str] = contextvars.ContextVar("manager", default="unknown")
_NAMESPACES = re.compile(r"^/api/v1/namespaces(?:/(?P<name>[^/]+))?/?$")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_body(code: int, reason: str, message: str) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


def _status(
    code: int, reason: str, message: str, headers: dict[str, str] | None = None
) -> aiohttp.web.Response:
    return aiohttp.web.json_response(
        _status_body(code, reason, message), status=code, headers=headers
    )


def _is_watch(query: Any) -> bool:
    return query.get("watch") in {"true", "1"}


def _managed(obj: Json, *, subresource: str = "") -> None:
    """Record the write in ``managedFields``, one entry per manager and subresource."""
    meta = obj["metadata"]
    entry = {
        "manager": _MANAGER.get(),
        "operation": "Update",
        "apiVersion": obj.get("apiVersion", ""),
        "time": _now(),
        "fieldsType": "FieldsV1",
        **({"subresource": subresource} if subresource else {}),
    }
    kept = [
        e
        for e in meta.get("managedFields") or []
        if (e.get("manager"), e.get("subresource", "")) != (entry["manager"], subresource)
    ]
    meta["managedFields"] = [*kept, entry]


def _owner_uids(obj: Json) -> set[str]:
    return {ref.get("uid") for ref in (obj.get("metadata") or {}).get("ownerReferences") or []}


@attrs.define(kw_only=True)
class ApiServer(kmock.KubernetesEmulator):
    """The emulator; ``objects`` (kmock's store, with history) is there for assertions."""

    _revision: int = attrs.field(default=0, init=False)
    #: (resourceVersion, resource, event, the object before a MODIFIED) for watch replays.
    _log: list[tuple[int, kmock.resource, Json, Json | None]] = attrs.field(
        factory=list, init=False
    )
    #: Watches resuming from before this revision get 410 Gone.
    _compacted: int = attrs.field(default=0, init=False)
    #: Bumped to end every open watch; new watches wait for the gate.
    _watch_epoch: int = attrs.field(default=0, init=False)
    _watch_gate: asyncio.Event = attrs.field(factory=asyncio.Event, init=False)
    _gc_task: asyncio.Task[None] | None = attrs.field(default=None, init=False)
    _gc_again: bool = attrs.field(default=False, init=False)
    faults: Faults = attrs.field(factory=Faults, init=False)
    _columns: dict[kmock.resource, list[Json]] = attrs.field(factory=dict, init=False)
    _changed: asyncio.Condition = attrs.field(factory=asyncio.Condition, init=False)
    _kinds: dict[kmock.resource, tuple[str, bool, set[str]]] = attrs.field(factory=dict, init=False)
    #: Namespace objects by name; ``default`` and ``kube-system`` are added at start.
    namespaces: dict[str, Json] = attrs.field(factory=dict, init=False)
    access_log: bool = False

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._watch_gate.set()
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
        categories: set[str] | None = None,
    ) -> None:
        """Serve ``res`` in discovery and accept its objects."""
        self._kinds[res] = (kind, namespaced, set(subresources or ()))
        self.resources[res] = kmock.ResourceInfo(
            kind=kind,
            namespaced=namespaced,
            verbs=set(VERBS),
            singular=kind.lower(),
            shortnames=shortnames or set(),
            categories=categories or set(),
            subresources=subresources or set(),
        )

    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        """kmock's resource list, with subresources as a real server lists them: no short
        names or categories (kubectl would warn that ``ms`` matches them too), Scale's kind;
        and the core group as ``v1``, not kmock's ``/v1`` (kubectl then finds no v1 kinds)."""
        listing: Any = await super()._serve_version(request)
        listing["groupVersion"] = str(listing.get("groupVersion", "")).lstrip("/")
        for entry in listing.get("resources") or []:
            if "/" not in entry["name"]:
                continue
            entry.update(shortNames=[], categories=[], singularName="", verbs=["get", "patch"])
            if entry["name"].endswith("/scale"):
                entry.update(group="autoscaling", version="v1", kind="Scale")
        return listing

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
        if raw.path.startswith("/_emulator/"):
            return await self._serve_control(raw)
        agent = raw.headers.get("User-Agent", "unknown").split("/", 1)[0]
        _MANAGER.set(raw.query.get("fieldManager") or agent)
        fault = self.faults.pick(
            raw.method,
            raw.path,
            agent=raw.headers.get("User-Agent", ""),
            watch=_is_watch(raw.query),
        )
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.status is not None:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(int(fault.retry_after))
                message = f"injected fault on {raw.method} {raw.path}"
                return _status(fault.status, REASONS[fault.status], message, headers)
        if raw.path.startswith("/openapi/v3"):
            return self._serve_openapi(raw.path)
        match = _NAMESPACES.match(raw.path)
        if match and raw.method in {"GET", "POST"}:
            return await self._serve_namespaces(raw, match.group("name"))
        return await super().__call__(raw)

    def _serve_openapi(self, path: str) -> aiohttp.web.StreamResponse:
        def gv(res: kmock.resource) -> str:
            return f"{res.group}/{res.version}" if res.group else str(res.version)

        known = [*self._kinds, NAMESPACES]
        if path.rstrip("/") == "/openapi/v3":
            return aiohttp.web.json_response(openapi_root(gv(res) for res in known))
        prefix = path.removeprefix("/openapi/v3/").strip("/")
        resources = [
            (res.group or "", str(res.version), info[0], str(res.plural), info[1])
            for res, info in [*self._kinds.items(), (NAMESPACES, ("Namespace", False, set()))]
            if (f"apis/{gv(res)}" if res.group else f"api/{gv(res)}") == prefix
        ]
        if not resources:
            return _status(404, "NotFound", f"no OpenAPI document for {prefix}")
        return aiohttp.web.json_response(openapi_document(prefix, resources))

    async def _serve_control(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """The test's levers: faults and watch gaps (never seen by a real client)."""
        what = (raw.method, raw.path.rstrip("/"))
        if what == ("POST", "/_emulator/faults"):
            try:
                self.faults.load(await raw.json())
            except (ValueError, TypeError, KeyError) as exc:
                return _status(400, "BadRequest", f"bad fault rules: {exc}")
        elif what == ("DELETE", "/_emulator/faults"):
            self.faults.rules.clear()
        elif what == ("POST", "/_emulator/watches/close"):
            self._watch_gate.clear()
            async with self._changed:
                self._watch_epoch += 1
                self._changed.notify_all()
        elif what == ("POST", "/_emulator/watches/expire"):
            self._compacted = self._revision
            self._watch_gate.set()
        elif what != ("GET", "/_emulator/faults"):
            return _status(404, "NotFound", f"no emulator control at {raw.method} {raw.path}")
        return aiohttp.web.json_response([fault.describe() for fault in self.faults.rules])

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
        except SelectorError as exc:
            return _status(400, "BadRequest", str(exc))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, ValueError) as exc:
            return _status(422, "Invalid", f"the patch cannot be applied: {exc}")

    async def _serve_object(self, request: rendering.Request, res: kmock.resource) -> Any:
        method, sub = request.method.value, request.subresource or ""
        namespace, name = request.namespace, request.name
        if method == "GET" and _is_watch(request.params):
            return await self._serve_watch_stream(request, res)
        accept = request._raw_request.headers.get("Accept", "") if request._raw_request else ""
        if method == "GET" and name is None:
            selected = selection(request.params, kind=self._kinds[res][0])
            listing = self._list(res, namespace, selected)
            if wants_table(accept):
                revision = listing["metadata"]["resourceVersion"]
                listing = table(
                    listing["items"], self._columns.get(res, []), resource_version=revision
                )
            return aiohttp.web.json_response(listing)
        if method == "POST" and name is None:
            return await self._create(res, namespace, dict(request.data or {}))
        key = (res, namespace, name)
        if key not in self._objects or self._objects[key].deleted:
            what = f"{res.plural} {name!r}"
            return _status(404, "NotFound", f"{what} not found")
        if method == "GET":
            obj = self._objects[key].raw
            if sub == "scale":
                return aiohttp.web.json_response(self._scale(obj))
            if wants_table(accept):
                revision = obj["metadata"]["resourceVersion"]
                columns = self._columns.get(res, [])
                return aiohttp.web.json_response(table([obj], columns, resource_version=revision))
            return aiohttp.web.json_response(obj)
        if method == "PATCH":
            return await self._patch(key, request.data, subresource=sub)
        if method == "DELETE":
            options = request.data if isinstance(request.data, dict) else {}
            policy = options.get("propagationPolicy") or request.params.get("propagationPolicy")
            if options.get("orphanDependents") is True:
                policy = policy or "Orphan"
            return await self._delete(key, policy=policy or "Background")
        return _status(405, "MethodNotAllowed", f"{method} is not supported by this emulator")

    # Writes -------------------------------------------------------------------------------

    async def _commit(
        self, res: kmock.resource, event_type: str, obj: Json, previous: Json | None = None
    ) -> None:
        async with self._changed:
            revision = int(obj["metadata"]["resourceVersion"])
            self._log.append((revision, res, {"type": event_type, "object": obj}, previous))
            self._changed.notify_all()

    def _stored(self, res: kmock.resource, obj: Json) -> Json:
        return stored(obj, kind=self._kinds[res][0]) if res.plural in BUILTINS else obj

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
        obj = self._stored(res, obj)
        obj["metadata"].pop("managedFields", None)
        _managed(obj)
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
        new = self._stored(res, copy.deepcopy(obj.raw))
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
        _managed(new, subresource="status" if subresource == "status" else "")
        meta["resourceVersion"] = self._next_revision()
        if new.get("spec") != current.get("spec"):
            meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._objects[key].patch(new)
            self._objects[key].delete()
            await self._commit(res, "DELETED", new)
            self._collect_garbage()
            return aiohttp.web.json_response(new)
        self._objects[key].create(new)
        await self._commit(res, "MODIFIED", copy.deepcopy(new), current)
        return aiohttp.web.json_response(self._scale(new) if scale else new)

    async def _delete(self, key: tuple[Any, ...], *, policy: str = "Background") -> Any:
        """Delete, or mark for deletion while finalizers (``orphan``, ``foregroundDeletion``
        for those propagation policies) hold the object; the collector does the rest."""
        if policy not in {"Background", "Foreground", "Orphan"}:
            return _status(400, "BadRequest", f"unsupported propagationPolicy {policy!r}")
        res = key[0]
        current = self._objects[key].raw
        obj = copy.deepcopy(current)
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        special = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(policy)
        if special and not meta.get("deletionTimestamp") and special not in finalizers:
            finalizers.append(special)
            meta["finalizers"] = finalizers
        if finalizers:
            if not meta.get("deletionTimestamp") or meta.get("finalizers") != (
                current["metadata"].get("finalizers")
            ):
                meta.setdefault("deletionTimestamp", _now())
                meta.setdefault("deletionGracePeriodSeconds", 0)
                meta["resourceVersion"] = self._next_revision()
                self._objects[key].create(obj)
                await self._commit(res, "MODIFIED", copy.deepcopy(obj), copy.deepcopy(current))
                self._collect_garbage()
            return aiohttp.web.json_response(obj, status=202)
        meta["resourceVersion"] = self._next_revision()
        self._objects[key].delete()
        await self._commit(res, "DELETED", obj)
        self._collect_garbage()
        return aiohttp.web.json_response(obj)

    # Garbage collection --------------------------------------------------------------------

    def _collect_garbage(self) -> None:
        """Run the collector soon, in the background, as the controller manager would."""
        if self._gc_task is not None and not self._gc_task.done():
            self._gc_again = True
            return
        self._gc_task = asyncio.get_running_loop().create_task(self._collector())

    async def _collector(self) -> None:
        await asyncio.sleep(0.05)
        while True:
            self._gc_again = False
            while await self._collect_once():
                pass
            if not self._gc_again:
                return

    def _live(self) -> dict[tuple[Any, ...], Json]:
        return {key: obj.raw for key, obj in self._objects.items() if not obj.deleted}

    async def _collect_once(self) -> bool:
        """One round of the collector; ``True`` if it changed anything."""
        live = self._live()
        by_uid = {obj["metadata"].get("uid"): key for key, obj in live.items()}
        for key, obj in live.items():
            meta = obj["metadata"]
            finalizers = meta.get("finalizers") or []
            if not meta.get("deletionTimestamp"):
                continue
            dependents = [k for k, o in live.items() if meta.get("uid") in _owner_uids(o)]
            if "orphan" in finalizers:
                for dependent in dependents:
                    await self._drop_owner(dependent, meta["uid"])
                await self._release(key, "orphan")
                return True
            if "foregroundDeletion" in finalizers:
                if not dependents:
                    await self._release(key, "foregroundDeletion")
                    return True
                for dependent in dependents:
                    others = _owner_uids(live[dependent]) - {meta["uid"]}
                    if any(uid in by_uid for uid in others):  # another owner keeps it
                        await self._drop_owner(dependent, meta["uid"])
                        return True
                    if not live[dependent]["metadata"].get("deletionTimestamp"):
                        await self._delete(dependent, policy="Foreground")
                        return True
        changed = False
        for key, obj in live.items():
            owners = _owner_uids(obj)
            gone = {uid for uid in owners if uid not in by_uid}
            if not gone:
                continue
            if gone == owners:
                if not obj["metadata"].get("deletionTimestamp"):
                    await self._delete(key, policy="Background")
                    changed = True
                continue
            for uid in gone:
                await self._drop_owner(key, uid)
            changed = True
        return changed

    async def _drop_owner(self, key: tuple[Any, ...], uid: str) -> None:
        current = self._objects[key].raw
        obj = copy.deepcopy(current)
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
        obj["metadata"]["resourceVersion"] = self._next_revision()
        self._objects[key].create(obj)
        await self._commit(key[0], "MODIFIED", copy.deepcopy(obj), copy.deepcopy(current))

    async def _release(self, key: tuple[Any, ...], finalizer: str) -> None:
        current = self._objects[key].raw
        obj = copy.deepcopy(current)
        meta = obj["metadata"]
        meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != finalizer]
        if not meta["finalizers"]:
            del meta["finalizers"]
        meta["resourceVersion"] = self._next_revision()
        if meta.get("finalizers"):
            self._objects[key].create(obj)
            await self._commit(key[0], "MODIFIED", copy.deepcopy(obj), copy.deepcopy(current))
        else:
            self._objects[key].patch(obj)
            self._objects[key].delete()
            await self._commit(key[0], "DELETED", obj)

    def _register_crd(self, crd: Json) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        for version in spec.get("versions") or []:
            subresources = set((version.get("subresources") or {}).keys())
            res = kmock.resource(spec["group"], version["name"], names["plural"])
            self._columns[res] = list(version.get("additionalPrinterColumns") or [])
            self.register(
                res,
                kind=names["kind"],
                namespaced=spec.get("scope") == "Namespaced",
                subresources=subresources,
                shortnames=set(names.get("shortNames") or ()),
                categories=set(names.get("categories") or ()),
            )

    # Reads --------------------------------------------------------------------------------

    def _list(
        self, res: kmock.resource, namespace: str | None, selected: Predicate | None = None
    ) -> Json:
        kind = self._kinds[res][0]
        items = [
            obj.raw
            for (r, ns, _), obj in self._objects.items()
            if r == res
            and not obj.deleted
            and (namespace is None or ns == namespace)
            and (selected is None or selected(obj.raw))
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
        selected = selection(request.params, kind=self._kinds[res][0])
        since = request.params.get("resourceVersion") or ""
        timeout = float(request.params.get("timeoutSeconds") or 3600)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request._raw_request)
        await self._watch_gate.wait()
        if since.isdigit() and since != "0":  # "0" means "any version": the current state
            cursor = int(since)
        else:  # no resourceVersion: start with the current state, as ADDED events
            cursor = self._revision
            for item in self._list(res, request.namespace, selected)["items"]:
                await response.write(json.dumps({"type": "ADDED", "object": item}).encode() + b"\n")
        events = self._events_after(
            cursor, res, request.namespace, selected=selected, timeout=timeout
        )
        async for event in events:
            await response.write(json.dumps(event).encode() + b"\n")
        await response.write_eof()
        return response

    async def _events_after(
        self,
        cursor: int,
        res: kmock.resource,
        namespace: str | None,
        *,
        selected: Predicate | None = None,
        timeout: float,
    ) -> AsyncIterator[Json]:
        """Events after resourceVersion ``cursor``, then live ones, until ``timeout``.

        A cursor older than the compacted history gets one ERROR event (410 Expired); a
        watch ends early when the test closes all watches.
        """
        if cursor < self._compacted:
            message = f"too old resource version: {cursor} ({self._compacted})"
            yield {"type": "ERROR", "object": _status_body(410, "Expired", message)}
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        epoch = self._watch_epoch
        position = bisect.bisect_right([entry[0] for entry in self._log], cursor)
        while True:
            while position < len(self._log):
                _, r, event, previous = self._log[position]
                position += 1
                obj = event["object"]
                if r != res or (
                    namespace is not None and obj["metadata"].get("namespace") != namespace
                ):
                    continue
                seen = _as_selected(event, previous, selected)
                if seen is not None:
                    yield seen
            # The predicate is checked under the lock: a commit made while the last event was
            # being written cannot be missed.
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(
                            lambda: position < len(self._log) or epoch != self._watch_epoch  # noqa: B023
                        ),
                        timeout=deadline - loop.time(),
                    )
                except TimeoutError:
                    return
            if epoch != self._watch_epoch:
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
        await self._watch_gate.wait()
        since = raw.query.get("resourceVersion") or ""
        cursor = int(since) if since.isdigit() and since != "0" else 0
        timeout = float(raw.query.get("timeoutSeconds") or 3600)
        async for event in self._events_after(cursor, NAMESPACES, None, timeout=timeout):
            await response.write(json.dumps(event).encode() + b"\n")
        await response.write_eof()
        return response


def _as_selected(event: Json, previous: Json | None, selected: Predicate | None) -> Json | None:
    """The event as a watch with a selector sees it: leaving the selection is a deletion."""
    if selected is None:
        return event
    now = selected(event["object"])
    if event["type"] != "MODIFIED" or previous is None:
        return event if now else None
    before = selected(previous)
    if now and before:
        return event
    if now:
        return {**event, "type": "ADDED"}
    if before:
        return {**event, "type": "DELETED"}
    return None


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
