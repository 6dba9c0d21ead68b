"""What the store can refuse, in domain terms the handlers map to HTTP."""

from gale_service.db import DatabaseUnavailable


class DocumentNotFound(LookupError):
    """No such document (or a malformed id, which can never name one)."""


class PreconditionFailed(Exception):
    """The caller's expected version is not the stored one; nothing was changed."""

    def __init__(self, *, current_version: int) -> None:
        super().__init__(f"the document is at version {current_version}")
        self.current_version = current_version


class DocumentsExist(Exception):
    """An import names ids that are already stored; nothing was written."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(f"{len(ids)} id(s) already exist")
        self.ids = ids


StoreUnavailable = DatabaseUnavailable

__all__ = ["DocumentNotFound", "DocumentsExist", "PreconditionFailed", "StoreUnavailable"]
