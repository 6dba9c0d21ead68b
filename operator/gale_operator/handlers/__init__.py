"""kopf handlers: thin glue between kopf's events and the reconcile pass.

Importing this package registers every handler in kopf's default registry.
"""

from gale_operator.handlers import children, login, microservice, tls

__all__ = ["children", "login", "microservice", "tls"]
