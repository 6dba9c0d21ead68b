"""The only layer that knows which MongoDB driver is in use."""

from gale_service.db.driver import (
    DatabaseUnavailable,
    MongoGateway,
    connect,
)

__all__ = ["DatabaseUnavailable", "MongoGateway", "connect"]
