"""The JSON frames the live feed sends; one place builds them so the client has one shape."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gale_service.store.items import to_public


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, default=_default, separators=(",", ":"), ensure_ascii=False)


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
