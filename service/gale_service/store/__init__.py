"""Persistence for the sample domain; the only layer above the driver seam."""

from gale_service.store.errors import ItemNotFound, PreconditionFailed, StoreUnavailable
from gale_service.store.events import EventLog
from gale_service.store.items import ItemStore
from gale_service.store.migrations import apply_migrations

__all__ = [
    "EventLog",
    "ItemNotFound",
    "ItemStore",
    "PreconditionFailed",
    "StoreUnavailable",
    "apply_migrations",
]
