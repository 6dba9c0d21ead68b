"""Fan-out of events to subscribers, each behind a bounded send queue.

The hub never waits on a subscriber: ``publish`` offers a frame to each interested queue
without blocking, and a subscriber whose queue is full is a slow consumer, closed with 1013
("try again later") so it reconnects and resumes from its last sequence. One slow client
therefore costs at most ``queue_size`` frames of memory and never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gale_service.auth.principal import Principal
from gale_service.live.frames import event_frame

log = logging.getLogger(__name__)
TRY_AGAIN_LATER = 1013
GOING_AWAY = 1001


@dataclass(eq=False)
class Subscription:
    """One WebSocket's interest: who it is, which tags, and what it has already seen."""

    principal: Principal
    queue: asyncio.Queue[str]
    close: Callable[[int, str], None]
    tags: frozenset[str] | None = None
    last_seq: int = 0
    #: Connected but not subscribed yet (or replaying): the hub sends nothing.
    joined: bool = False
    closed: bool = field(default=False)

    def wants(self, event: dict[str, Any]) -> bool:
        if int(event["_id"]) <= self.last_seq or not self.principal.can_see(event.get("owner")):
            return False
        return self.tags is None or bool(self.tags.intersection(event.get("tags") or ()))


class Hub:
    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()
        #: Sequence of the last event published; ``None`` until the follower has read it.
        self.position: int | None = None
        self.ready = asyncio.Event()
        self.accepting = True

    def start_at(self, position: int) -> None:
        self.position = position
        self.ready.set()

    def add(self, subscription: Subscription) -> None:
        self.subscriptions.add(subscription)

    def discard(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)

    def publish(self, event: dict[str, Any]) -> None:
        """Offer one event (in sequence order) to every subscriber allowed to see it."""
        seq = int(event["_id"])
        self.position = seq if self.position is None else max(self.position, seq)
        frame: str | None = None
        for subscription in list(self.subscriptions):
            if not subscription.joined or subscription.closed or not subscription.wants(event):
                continue
            frame = frame or event_frame(event)
            try:
                subscription.queue.put_nowait(frame)
            except asyncio.QueueFull:
                self.drop(subscription, TRY_AGAIN_LATER, "slow consumer: send queue full")
                continue
            subscription.last_seq = seq

    def drop(self, subscription: Subscription, code: int, reason: str) -> None:
        subscription.closed = True
        self.discard(subscription)
        log.info("closing live subscriber", extra={"code": code, "reason": reason})
        subscription.close(code, reason)

    def close_all(self, code: int = GOING_AWAY, reason: str = "server shutting down") -> None:
        """On drain: every subscriber gets ``code`` and no new ones are accepted."""
        self.accepting = False
        for subscription in list(self.subscriptions):
            self.drop(subscription, code, reason)
