"""The live feed a process runs: one hub, one follower, and the gap-free join.

Joining with a resume token replays from the event log straight to the socket (awaiting each
send, so a long replay is paced by the client rather than buffered), and only then flips the
subscription to live. The replay never reads past the hub's position, the resolved frontier
(a later entry could sit beyond a position that has yet to commit), and the flip happens
synchronously right after a read that reached that position, so no event can fall between
replay and live; an event read by both is dropped by its position. A subscriber that fell
behind (its queue overflowed during a burst) catches up the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gale_service.db import MongoGateway
from gale_service.live.follower import EventFollower
from gale_service.live.frames import error_frame, event_frame
from gale_service.live.hub import GOING_AWAY, Hub, Subscription
from gale_service.store.events import EventLog

REPLAY_BATCH = 200
Send = Callable[[str], Awaitable[None]]


class LiveFeed:
    def __init__(
        self, events: EventLog, gateway: MongoGateway, *, poll_interval: float, queue_size: int
    ) -> None:
        self.events = events
        self.hub = Hub()
        self.follower = EventFollower(events, gateway, self.hub, poll_interval=poll_interval)
        self.queue_size = queue_size

    def start(self) -> None:
        self.follower.start()

    async def stop(self) -> None:
        self.close_all()
        await self.follower.stop()

    def close_all(self, code: int = GOING_AWAY) -> None:
        self.hub.close_all(code)

    async def join(self, subscription: Subscription, *, resume_from: int | None, send: Send) -> int:
        """Replay after ``resume_from`` (if given) to ``send``, then go live; returns the
        position the subscription is at."""
        subscription.joined = False
        await self.hub.ready.wait()
        position = self.hub.position or 0
        if resume_from is None:
            subscription.last_seq = position
            subscription.behind = False
            subscription.joined = True
            return position
        if resume_from > position:
            await send(error_frame(f"resume_from {resume_from} is ahead of the feed ({position})"))
            resume_from = position
        subscription.last_seq = resume_from
        return await self.catch_up(subscription, send=send)

    async def catch_up(self, subscription: Subscription, *, send: Send) -> int:
        """Send what the log holds after the subscription's position, then go live.

        Recent entries come from the hub's memory; older ones from the database."""
        subscription.joined = False
        while True:
            frontier = self.hub.position or 0
            recent = self.hub.recent_after(subscription.last_seq, up_to=frontier)
            if recent is not None:
                for published in recent:
                    if subscription.wants(published.entry):
                        assert published.frame is not None
                        await send(published.frame)
                    subscription.last_seq = max(subscription.last_seq, published.seq)
                batch_sent = bool(recent)
            else:
                batch = [
                    e
                    async for e in self.events.since(
                        subscription.last_seq, limit=REPLAY_BATCH, up_to=frontier
                    )
                ]
                for event in batch:
                    if subscription.wants(event):
                        await send(event_frame(event))
                    subscription.last_seq = max(subscription.last_seq, int(event["_id"]))
                batch_sent = bool(batch)
            if batch_sent:
                continue
            if subscription.last_seq >= (self.hub.position or 0):
                subscription.behind = False
                subscription.joined = True
                return subscription.last_seq
            await asyncio.sleep(0.05)
