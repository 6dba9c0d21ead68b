"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS): how to send an NDJSON body."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    """A generated ItemWrite becomes one line; anything else is sent as JSON text as is."""
    return (json.dumps(value) + "\n").encode()
