"""Versioned secret sets: the newest key signs, every listed key still verifies.

A set is written as whitespace- or comma-separated ``id:secret`` pairs, newest first, e.g.
``2025-06:Q2x... 2025-01:9fL...``. Rotating means prepending a new pair and, once every
token or cookie signed with the old key has expired, dropping the last one. The same format
holds JWT signing keys (``jwt_keys``, ids become the ``kid`` header) and cookie secrets
(``cookie_secrets``, ids must be integers because Tornado stores them as ``key_version``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

MIN_SECRET_LENGTH = 32
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True, slots=True)
class KeySet:
    keys: tuple[tuple[str, str], ...]

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def current_secret(self) -> str:
        return self.keys[0][1]

    def secret_for(self, key_id: str) -> str | None:
        return dict(self.keys).get(key_id)

    def as_cookie_secrets(self) -> dict[int, str]:
        """Tornado's ``cookie_secret`` dict (``key_version`` → secret)."""
        return {int(key_id): secret for key_id, secret in self.keys}


def parse_key_set(text: str, *, numeric_ids: bool = False) -> KeySet:
    """Parse ``id:secret`` pairs; raises :class:`ValueError` saying what is wrong."""
    pairs: list[tuple[str, str]] = []
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        key_id, sep, secret = entry.partition(":")
        if not sep or not KEY_ID.match(key_id):
            raise ValueError("expected id:secret pairs, newest first")
        if numeric_ids and not key_id.isdigit():
            raise ValueError(f"key id {key_id!r} must be an integer")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"key {key_id!r} is shorter than {MIN_SECRET_LENGTH} characters")
        if any(key_id == known for known, _ in pairs):
            raise ValueError(f"key id {key_id!r} appears twice")
        pairs.append((key_id, secret))
    if not pairs:
        raise ValueError("no keys given")
    return KeySet(tuple(pairs))


def generate_key_set_text(key_id: str) -> str:
    return f"{key_id}:{secrets.token_urlsafe(48)}"
