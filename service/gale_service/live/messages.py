"""What a client may send over the live WebSocket, as a JSON schema.

- ``{"type": "subscribe"}``: every event the caller may see;
  ``"tags": ["a", "b"]`` narrows to documents carrying any of them;
  ``"resume_from": N`` replays everything after sequence N first (the reconnect path).
- ``{"type": "ping"}``: an application-level liveness check, answered with ``pong``.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

TAG = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "maxLength": 32}
CLIENT_MESSAGE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "type": {"const": "subscribe"},
                "tags": {"type": "array", "items": TAG, "minItems": 1, "maxItems": 20},
                "resume_from": {"type": "integer", "minimum": 0},
            },
            "required": ["type"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"type": {"const": "ping"}},
            "required": ["type"],
            "additionalProperties": False,
        },
    ],
}
_VALIDATOR = Draft202012Validator(CLIENT_MESSAGE)
_BY_TYPE = {branch["properties"]["type"]["const"]: branch for branch in CLIENT_MESSAGE["oneOf"]}


class InvalidMessage(ValueError):
    """A message the server refuses; the text is the reason sent back in the error frame."""


def parse_client_message(raw: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidMessage("message is not valid JSON") from None
    # Validate against the branch the message names, so the reason is about that branch.
    kind = message.get("type") if isinstance(message, dict) else None
    schema = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    validator = Draft202012Validator(schema) if schema is not None else _VALIDATOR
    error = best_match(validator.iter_errors(message))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path)
        raise InvalidMessage(f"{where or 'message'}: {error.message}"[:300])
    result: dict[str, Any] = message
    return result
