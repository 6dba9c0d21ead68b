"""Gale's sample microservice: a Tornado HTTP + WebSocket API over MongoDB."""
