"""What the handlers share at run time, kept in kopf's operator-wide memo.

kopf gives each object a shallow copy of the operator memo, so the one :class:`Runtime`
instance (client, wake-up events, intervals) is shared by all handlers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from collections.abc import Callable
from typing import Any

from gale_operator.core import kinds
from gale_operator.kube.client import ApiError, KubeClient
from gale_operator.kube.own_writes import OwnWrites
from gale_operator.kube.vanished import VanishedChildren
from gale_operator.settings import CHILD_SELECTOR

logger = logging.getLogger(__name__)
#: The longest a "does this CRD exist" answer is trusted (shorter if the interval is).
DISCOVERY_TTL_SECONDS = 60.0


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass
class Runtime:
    reconcile_interval: float
    client: KubeClient | None = None
    #: Wall-clock time for certificate decisions; tests inject one to let months pass.
    clock: Callable[[], datetime.datetime] = utc_now
    wakeups: dict[tuple[str, str], asyncio.Event] = dataclasses.field(default_factory=dict)
    #: What the last passes wrote, until the indexes show it.
    own_writes: OwnWrites = dataclasses.field(default_factory=OwnWrites)
    #: The generation each loop last reconciled: a new one wakes it.
    generations: dict[tuple[str, str], Any] = dataclasses.field(default_factory=dict)
    vanished: VanishedChildren = dataclasses.field(init=False)
    _pending: dict[tuple[str, str], list[tuple[kinds.Kind, Any] | None]] = dataclasses.field(
        default_factory=dict
    )
    #: The status each loop last stored, until the watched body shows a newer one.
    _statuses: dict[tuple[str, str], tuple[float, Any]] = dataclasses.field(default_factory=dict)
    _discovery: dict[kinds.Kind, tuple[float, bool]] = dataclasses.field(default_factory=dict)
    _sweep: asyncio.Task[None] | None = None
    _asking: dict[kinds.Kind, asyncio.Future[bool]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vanished = VanishedChildren(self._list_children, max_age=self.reconcile_interval / 2)

    async def _list_children(self, kind: kinds.Kind, namespace: str) -> list[dict[str, Any]]:
        return await self.api.list_objects(kind, namespace=namespace, label_selector=CHILD_SELECTOR)

    def relisting(self, indexed: tuple[kinds.Kind, ...]) -> None:
        """A listing event: once the relist settles, wake whoever lost a child of ``indexed``
        in the gap."""
        if self.vanished.relisting() and (self._sweep is None or self._sweep.done()):
            self._sweep = asyncio.create_task(self._sweep_vanished(indexed))

    async def _sweep_vanished(self, indexed: tuple[kinds.Kind, ...]) -> None:
        try:
            gone = await self.vanished.sweep(indexed)
        except ApiError as exc:  # the periodic passes check again
            logger.warning("Checking for children deleted during a watch gap failed: %s", exc)
            return
        for key in gone:
            self.wake(key)

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
        if self.client is not None:
            await self.client.close()

    def record_status(self, key: tuple[str, str], status: Any) -> None:
        if status is None:
            self._statuses.pop(key, None)
        else:
            self._statuses[key] = (time.monotonic(), status)

    def stored_status(self, key: tuple[str, str]) -> Any:
        """What the last pass stored, for at most one interval (then the body is trusted:
        a status someone else changed is repaired by the next periodic pass)."""
        kept = self._statuses.get(key)
        if kept is None or time.monotonic() - kept[0] > self.reconcile_interval:
            return None
        return kept[1]

    def forget(self, key: tuple[str, str]) -> None:
        """Drop everything kept about a Microservice that is gone."""
        self._statuses.pop(key, None)
        self._pending.pop(key, None)
        self.wakeups.pop(key, None)
        self.generations.pop(key, None)
        self.own_writes.forget(key)
        self.vanished.forget(key)

    @property
    def api(self) -> KubeClient:
        if self.client is None:
            raise RuntimeError("the API client is not connected yet (startup has not run)")
        return self.client

    def wakeup(self, key: tuple[str, str]) -> asyncio.Event:
        return self.wakeups.setdefault(key, asyncio.Event())

    def wake(self, key: tuple[str, str], *, echo: tuple[kinds.Kind, Any] | None = None) -> None:
        """Ask the Microservice's reconcile loop to run now instead of at its next tick.

        ``echo`` names the child whose watch event this is: if it turns out to be exactly
        what the loop's own last pass wrote, the wake-up alone does not call for a pass.
        """
        event = self.wakeups.get(key)
        if event is not None:
            self._pending.setdefault(key, []).append(echo)
            event.set()

    def only_echoes(self, key: tuple[str, str]) -> bool:
        """Whether every wake-up since the last call was an echo of the loop's own writes."""
        pending = self._pending.pop(key, [])
        return bool(pending) and all(
            echo is not None and self.own_writes.is_echo(key, echo[0], echo[1]) for echo in pending
        )

    async def serves(self, kind: kinds.Kind) -> bool:
        """Whether the server serves ``kind``: asked once per TTL, by one loop at a time."""
        now = time.monotonic()
        cached = self._discovery.get(kind)
        ttl = min(DISCOVERY_TTL_SECONDS, self.reconcile_interval)
        if cached is not None and now - cached[0] < ttl:
            return cached[1]
        asking = self._asking.get(kind)
        if asking is None:
            asking = asyncio.ensure_future(self._ask(kind, now))
            self._asking[kind] = asking
            asking.add_done_callback(lambda _: self._asking.pop(kind, None))
        return await asyncio.shield(asking)

    async def _ask(self, kind: kinds.Kind, now: float) -> bool:
        served = await self.api.serves(kind)
        self._discovery[kind] = (now, served)
        return served


def runtime_of(memo: Any) -> Runtime:
    runtime = memo.get("runtime") if hasattr(memo, "get") else None
    if not isinstance(runtime, Runtime):
        raise RuntimeError("kopf was started without the Gale runtime in its memo")
    return runtime
