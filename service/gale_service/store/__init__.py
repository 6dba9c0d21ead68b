"""Persistence: resource-agnostic versioned documents, the event outbox, users and
migrations; the only layer above the driver seam, and the only one that speaks MongoDB."""

from gale_service.store.documents import VersionedStore
from gale_service.store.errors import (
    DocumentNotFound,
    DocumentsExist,
    PreconditionFailed,
    StoreUnavailable,
)
from gale_service.store.events import EventLog
from gale_service.store.migrations import apply_migrations

__all__ = [
    "DocumentNotFound",
    "DocumentsExist",
    "EventLog",
    "PreconditionFailed",
    "StoreUnavailable",
    "VersionedStore",
    "apply_migrations",
]
