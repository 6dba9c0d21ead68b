"""Telemetry: Prometheus metrics, OpenTelemetry spans and the DB listeners that feed both.

Handlers and the lifecycle use these modules; nothing here imports a handler or the app.
"""
