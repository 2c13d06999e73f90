"""WSGI middleware for the gateway's pages: one class per module (trusted proxies, request id,
security headers), configured only through ``__init__``, each ending by calling the app it
wraps. The auth hot path (``/sso/auth``) runs outside this stack on purpose."""
