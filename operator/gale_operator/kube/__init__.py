"""The API-facing layer: a non-blocking client, child apply, and the reconcile pass."""
