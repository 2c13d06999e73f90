"""Thin Flask blueprints (and the plain-WSGI auth endpoint): parse the request, call one
service, answer. Shared helpers live in ``common.py``; no view module imports another."""
