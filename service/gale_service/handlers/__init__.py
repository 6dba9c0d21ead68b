"""HTTP handlers: thin translations between HTTP and the store. Only ``app`` imports them."""
