"""The JSON frames the live feed sends; one place builds them so the client has one shape."""

from __future__ import annotations

from typing import Any

from gale_service import json_codec
from gale_service.store.items import to_public


def dumps(frame: dict[str, Any]) -> str:
    """Anything JSON has no type for (an ObjectId) as its string."""
    return json_codec.dumps(frame, default=str)


def event_frame(event: dict[str, Any]) -> str:
    """``{"type": "event", "seq": N, "event": "item.created", "item": {...}}``; ``seq`` is the
    resume token the client sends back after a reconnect."""
    return dumps(
        {
            "type": "event",
            "seq": int(event["_id"]),
            "event": event["type"],
            "item": to_public(event["item"]),
        }
    )


def error_frame(reason: str) -> str:
    return dumps({"type": "error", "reason": reason})


def subscribed_frame(*, seq: int, tags: list[str] | None) -> str:
    return dumps({"type": "subscribed", "seq": seq, "tags": tags})
