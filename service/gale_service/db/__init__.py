"""The only layer that knows which MongoDB driver is in use."""

from gale_service.db import cancel_safety
from gale_service.db.driver import (
    ChangeStreamEnded,
    DatabaseUnavailable,
    MongoGateway,
    connect,
)

cancel_safety.install()

__all__ = ["ChangeStreamEnded", "DatabaseUnavailable", "MongoGateway", "connect"]
