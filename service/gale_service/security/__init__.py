"""Request hardening the handlers share: headers, Host allow-list, client IP, rate limits,
load shedding. Nothing here imports a handler."""
