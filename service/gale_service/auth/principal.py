"""The authenticated caller, and the one rule that decides whose documents it may see."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """A user as the request sees it: from a verified token or a signed session cookie.

    ``is_admin`` travels inside the signed credential, so a demotion takes effect when the
    credential expires (tokens are short-lived for that reason) or is revoked.
    ``generation`` and ``session`` (browser sessions only) are what revocation checks
    (:mod:`gale_service.auth.revocation`).
    """

    username: str
    is_admin: bool = False
    locale: str | None = None
    generation: int = 0
    session: str | None = None

    def can_see(self, owner: str | None) -> bool:
        return self.is_admin or owner == self.username

    def owner_scope(self) -> str | None:
        """The owner filter for queries: ``None`` (everything) for an admin."""
        return None if self.is_admin else self.username
