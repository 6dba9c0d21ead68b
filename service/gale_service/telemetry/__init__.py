"""Telemetry: Prometheus metrics, OpenTelemetry spans and the DB listeners that feed both.

- `metrics`: every metric name and label the dashboards and rules read, and the functions
  other modules record through (`record_rejection`, `websocket_opened`, ...).
- `tracing`: `ObservedApplication` (a span and the HTTP metrics per request, trace ids in
  every log line), `websocket_message_span`, `outgoing_headers`.
- `db_monitoring`: PyMongo command and pool listeners (both drivers): DB spans and metrics.
- `loop_lag`, `lifecycle`: what runs while the service runs; `setup`: the SDK from ``OTEL_*``.
- `redaction`: secrets kept out of logs and span attributes.

The app and the lifecycle wire these in; nothing here imports a handler, the store or the
app (an import-linter contract).
"""
