"""Flask-Session over our store: the short-lived browser session used while signing in.

It holds login state (``state``, ``nonce``, PKCE verifier, where to return) and form CSRF
tokens, under its own cookie scoped to the gateway's path prefix. The SSO session itself is a
separate store record (see manager.py) so the auth hot path never needs Flask.

The store is read before the view runs (``open_session``) and written after it
(``save_session``), both outside the view, where Flask would turn a store outage into an
unhandled 500. So neither raises: a failed read is kept in ``request.environ`` for the app to
raise once a view needs the session (:func:`unreadable`), and a failed write hands the
response to ``on_store_down``, which turns it into the "temporarily unavailable" page (503).
Nothing is remembered between requests: the next one tries the store again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, Request, Response
from flask_session.base import ServerSideSession, ServerSideSessionInterface

from ssomw.store.base import Store, StoreUnavailable

NAMESPACE = "flow"
READ_FAILED = "ssomw.flow_session_unreadable"

#: Replaces a response in place with the store-down page; given the failure.
OnStoreDown = Callable[[Response, StoreUnavailable], None]


def unreadable(environ: dict[str, Any]) -> StoreUnavailable | None:
    """The store failure that kept this request's flow session from being read, if any."""
    return environ.get(READ_FAILED)


class StoreSessionInterface(ServerSideSessionInterface):
    """Keeps Flask-Session's data in our Store's key/value space (TTL honoured there)."""

    ttl = True

    def __init__(self, app: Flask, store: Store, lifetime: float, on_store_down: OnStoreDown):
        self.store = store
        self.lifetime = lifetime
        self.on_store_down = on_store_down
        super().__init__(app, key_prefix="", use_signer=False, permanent=True, sid_length=32,
                         serialization_format="json", cleanup_n_requests=None)

    def open_session(self, app: Flask, request: Request) -> ServerSideSession:
        try:
            return super().open_session(app, request)
        except StoreUnavailable as exc:
            request.environ[READ_FAILED] = exc
            session = self.session_class(sid=self._generate_sid(self.sid_length),
                                         permanent=self.permanent)
            session.unreadable = True  # never saved: it would hide the browser's real one
            return session

    def save_session(self, app: Flask, session: ServerSideSession, response: Response) -> None:
        if getattr(session, "unreadable", False):
            return
        try:
            super().save_session(app, session, response)
        except StoreUnavailable as exc:
            self.on_store_down(response, exc)

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
