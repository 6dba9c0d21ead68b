"""The JSON frames the live feed sends; one place builds them so the client has one shape."""

from __future__ import annotations

from typing import Any

from gale_service import json_codec
from gale_service.store.documents import to_public
from gale_service.store.events import event_kind


def dumps(frame: dict[str, Any]) -> str:
    """Anything JSON has no type for (an ObjectId) as its string."""
    return json_codec.dumps(frame, default=str)


def event_frame(event: dict[str, Any]) -> str:
    """``{"type": "event", "seq": N, "event": "item.created", "item": {...}}``: the document
    under its kind's name, as the API shows it. ``seq`` is the resume token the client sends
    back after a reconnect."""
    kind = event_kind(event)
    return dumps(
        {
            "type": "event",
            "seq": int(event["_id"]),
            "event": event["type"],
            kind: to_public(event[kind]),
        }
    )


def error_frame(reason: str) -> str:
    return dumps({"type": "error", "reason": reason})


def subscribed_frame(*, seq: int, tags: list[str] | None) -> str:
    return dumps({"type": "subscribed", "seq": seq, "tags": tags})
