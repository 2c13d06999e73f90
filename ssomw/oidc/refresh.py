"""Keeping provider tokens fresh (``session.refresh_tokens: true``).

Checked on the auth path only when a session's access token is within ``REFRESH_MARGIN`` of
expiry. One refresh at a time per session, across workers and instances: a store lock
(``kv_add`` with a TTL). Requests that arrive meanwhile carry on with the still-valid session,
so concurrent requests never see a logout. A refused refresh, or a refreshed ID token for
another issuer or subject, ends the session (the user signs in again); a provider that is
merely unreachable is retried on a later request until the token has really expired.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError

from ssomw.core.claims import sign_in_level
from ssomw.oidc import RuntimeParts
from ssomw.oidc.client import oauth_session
from ssomw.oidc.errors import TokenError
from ssomw.oidc.provider import ProviderUnavailable
from ssomw.oidc.tokens import validate_refreshed_id_token
from ssomw.store.base import SessionRecord

log = logging.getLogger("ssomw.refresh")
REFRESH_MARGIN = 60.0
LOCK_TTL = 30.0


def needs_refresh(record: SessionRecord, now: float) -> bool:
    tokens = record.data.get("tokens")
    return bool(tokens and tokens.get("expires_at")
                and tokens["expires_at"] - now < REFRESH_MARGIN)


def refresh(runtime: RuntimeParts, record: SessionRecord, now: float | None = None
            ) -> SessionRecord | None:
    """The session to use: refreshed, unchanged (someone else is refreshing, or the provider
    is briefly unreachable), or None when it must end."""
    now = time.time() if now is None else now
    store = runtime.store
    if not store.kv_add("refresh-lock", record.id, b"1", LOCK_TTL):
        return record
    try:
        # Another request may have refreshed between our read and our lock: read again, so
        # a refresh token (possibly rotated by the provider) is never used twice.
        current = store.get_session(record.id)
        if current is None or not needs_refresh(current, now):
            return current
        record = current
        outcome = _refresh_once(runtime, record, now)
    finally:
        store.kv_delete("refresh-lock", record.id)
    if outcome == "end":
        runtime.sessions.end(record.id)
        return None
    if outcome == "keep":
        expired = record.data["tokens"]["expires_at"] <= now
        if expired:
            runtime.sessions.end(record.id)
        return None if expired else record
    return outcome


def _refresh_once(runtime: RuntimeParts, record: SessionRecord, now: float
                  ) -> SessionRecord | str:
    provider = runtime.providers.get(record.provider)
    tokens: dict[str, Any] = record.data["tokens"]
    if provider is None:
        return "end"
    try:
        client = oauth_session(provider, redirect_uri="")
        token = client.refresh_token(provider.endpoint("token_endpoint"),
                                     refresh_token=tokens["refresh_token"])
    except (ProviderUnavailable, requests.RequestException) as exc:
        log.warning("token refresh for %r at %s postponed: %s", record.user, provider.id,
                    type(exc).__name__)
        return "keep"
    except (OAuthError, ValueError) as exc:
        log.info("token refresh for %r refused by %s: %s; session ended", record.user,
                 provider.id, exc)
        return "end"
    id_token = token.get("id_token")
    access_token = token.get("access_token")
    level: dict[str, Any] = {}
    if isinstance(id_token, str):
        try:
            claims = validate_refreshed_id_token(
                id_token, provider.token_policy(), provider.jwks(),
                {"sub": record.sub, "nonce": record.data.get("nonce")},
                access_token if isinstance(access_token, str) else None, now)
        except (TokenError, ProviderUnavailable) as exc:
            log.warning("refreshed id_token for %r rejected (%s); session ended", record.user,
                        getattr(exc, "code", type(exc).__name__))
            return "end"
        # A refreshed ID token may say how and when the user last signed in (OIDC Core 12.2).
        level = {k: v for k, v in sign_in_level(claims).items() if v is not None}
    changes: dict[str, Any] = {**level, "tokens": {
        "access_token": access_token,
        "refresh_token": token.get("refresh_token") or tokens["refresh_token"],
        "expires_at": float(token["expires_at"]) if token.get("expires_at") else None,
    }}
    if isinstance(id_token, str):
        changes["id_token"] = id_token
    updated = record.with_data(**changes)  # the record read may be shared: never in place
    if not runtime.store.update_session_data(updated):
        return "end"  # logged out while we refreshed: stay logged out
    log.info("refreshed tokens of %r at %s", record.user, provider.id)
    return updated
