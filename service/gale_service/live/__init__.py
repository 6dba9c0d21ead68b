"""Live updates: follow the transactional ``events`` collection and fan events out to
WebSocket subscribers, each behind a bounded queue."""
