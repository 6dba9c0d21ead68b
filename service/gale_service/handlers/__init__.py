"""HTTP handlers: thin translations between HTTP and the store. Only the endpoint
declarations (``app``, ``platform_endpoints``, ``resources``) import them."""
