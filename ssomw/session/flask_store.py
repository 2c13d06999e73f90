"""Flask-Session over our store: the short-lived browser session used while signing in.

It holds login state (``state``, ``nonce``, PKCE verifier, where to return) and form CSRF
tokens, under its own cookie scoped to the gateway's path prefix. The SSO session itself is a
separate store record (see manager.py) so the auth hot path never needs Flask.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_session.base import ServerSideSession, ServerSideSessionInterface

from ssomw.store.base import Store

NAMESPACE = "flow"


class StoreSessionInterface(ServerSideSessionInterface):
    """Keeps Flask-Session's data in our Store's key/value space (TTL honoured there)."""

    ttl = True

    def __init__(self, app: Flask, store: Store, lifetime: float):
        self.store = store
        self.lifetime = lifetime
        super().__init__(app, key_prefix="", use_signer=False, permanent=True, sid_length=32,
                         serialization_format="json", cleanup_n_requests=None)

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        raw = self.store.kv_get(NAMESPACE, store_id)
        if raw is None:
            return None
        try:
            return self.serializer.decode(raw)
        except Exception:  # corrupt or foreign data: start afresh rather than fail
            return None

    def _delete_session(self, store_id: str) -> None:
        self.store.kv_delete(NAMESPACE, store_id)

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession,
                        store_id: str) -> None:
        self.store.kv_set(NAMESPACE, store_id, self.serializer.encode(session), self.lifetime)
