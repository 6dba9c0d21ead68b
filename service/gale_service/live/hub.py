"""Fan-out of events to subscribers, each behind a bounded send queue.

The hub never waits on a subscriber: ``publish`` offers a frame to each interested queue
without blocking. A subscriber whose queue is full is *behind*, not dropped: the hub stops
queueing for it, and its writer, once the queue has drained, catches up from the event log
straight to the socket (paced by the client) and goes live again. So a burst of any size
reaches every subscriber that reads, in order, while one subscriber costs at most
``queue_size`` frames of memory. Only a consumer that is really slow, one whose socket
accepts no frame for :data:`SLOW_SEND_SECONDS`, is closed with 1013 ("try again later"),
and it reconnects and resumes from its last position.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gale_service.auth.principal import Principal
from gale_service.live.frames import event_frame
from gale_service.store.events import is_event

log = logging.getLogger(__name__)
TRY_AGAIN_LATER = 1013
GOING_AWAY = 1001
#: A frame the socket has not accepted after this long marks a consumer as really slow.
SLOW_SEND_SECONDS = 5.0
#: Recently published entries kept in memory, so catching up after a burst rarely reads
#: the database (200 subscribers behind at once would otherwise be 200 log scans).
RECENT_ENTRIES = 4096


@dataclass(frozen=True, slots=True)
class Published:
    """A log entry as published, with its frame (built once for every subscriber)."""

    seq: int
    entry: dict[str, Any]
    frame: str | None


@dataclass(eq=False)
class Subscription:
    """One WebSocket's interest: who it is, which tags, and what it has already seen."""

    principal: Principal
    queue: asyncio.Queue[str]
    close: Callable[[int, str], None]
    tags: frozenset[str] | None = None
    #: The position of the last event queued or sent (or skipped as not wanted).
    last_seq: int = 0
    #: Connected but not subscribed yet (or replaying, or catching up): the hub sends nothing.
    joined: bool = False
    #: Its queue overflowed: the writer catches up from the log once the queue drains.
    behind: bool = False
    closed: bool = field(default=False)

    def wants(self, event: dict[str, Any]) -> bool:
        if int(event["_id"]) <= self.last_seq or not is_event(event):
            return False
        if not self.principal.can_see(event.get("owner")):
            return False
        return self.tags is None or bool(self.tags.intersection(event.get("tags") or ()))


class Hub:
    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()
        #: The resolved frontier: position of the last log entry published; ``None`` until
        #: the follower has read it.
        self.position: int | None = None
        self.ready = asyncio.Event()
        self.accepting = True
        self.recent: deque[Published] = deque(maxlen=RECENT_ENTRIES)

    def start_at(self, position: int) -> None:
        self.position = position
        self.ready.set()

    def add(self, subscription: Subscription) -> None:
        self.subscriptions.add(subscription)

    def discard(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)

    def publish(self, event: dict[str, Any]) -> None:
        """Offer one log entry (in position order) to every subscriber allowed to see it; a
        tombstone only moves the position on."""
        seq = int(event["_id"])
        if self.position is not None and seq <= self.position:
            return
        self.position = seq
        frame = event_frame(event) if is_event(event) else None
        # What ``wants`` reads, not the document: the frame already holds that.
        slim = {key: event.get(key) for key in ("_id", "type", "owner", "tags")}
        self.recent.append(Published(seq, slim, frame))
        for subscription in list(self.subscriptions):
            if not subscription.joined or subscription.closed:
                continue
            if not subscription.wants(event):
                subscription.last_seq = max(subscription.last_seq, seq)
                continue
            assert frame is not None
            try:
                subscription.queue.put_nowait(frame)
            except asyncio.QueueFull:
                subscription.joined = False
                subscription.behind = True
                continue
            subscription.last_seq = seq

    def recent_after(self, seq: int, *, up_to: int) -> list[Published] | None:
        """The published entries after ``seq`` up to ``up_to``, or ``None`` when memory no
        longer holds all of them (then the log must be read)."""
        if not self.recent or self.recent[0].seq > seq + 1:
            return None
        return [p for p in self.recent if seq < p.seq <= up_to]

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
