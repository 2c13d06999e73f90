"""Back-channel logout to broker clients: when an ssomw session ends, for any reason, every
client that holds it is told with a signed logout token (Back-Channel Logout 1.0 §2.4).

A session can end in many places (``/sso/logout``, the broker's end-session, an upstream
back-channel or front-channel logout, ``ssomw sessions revoke``, the admin API, a timeout or
the purge). Rather than hook each of them, the broker notes which client holds which session
(:class:`Links`, written when a client redeems a code) and a background round
(:func:`fan_out_round`, about once a second, one instance at a time via a store lock) tells
the clients of every noted session that no longer exists. Delivery is retried a bounded
number of times (:data:`RETRY_AFTER`) and every outcome is audited.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import requests

from ssomw.identity.keys import KeyRing
from ssomw.store.base import Store, StoreUnavailable
from ssomw.telemetry import audit

log = logging.getLogger("ssomw.broker.logout")
LINKS = "broker-rp"
LINK_TTL = 7 * 24 * 3600.0     # longer than any session may live
ROUND_INTERVAL = 1.0
RETRY_AFTER = (2.0, 10.0)      # seconds before the 2nd and 3rd (last) attempt
DELIVERY_TIMEOUT = 3.0
LOGOUT_TOKEN_LIFETIME = 120
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Links:
    """Which client holds which ssomw session: ``<session id>:<client id>`` → its user and
    delivery attempts."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, session_id: str, client_id: str, user: str) -> None:
        self.store.kv_set(LINKS, f"{session_id}:{client_id}",
                          json.dumps({"user": user, "attempts": 0, "next": 0}).encode(),
                          LINK_TTL)

    def clients_of(self, session_id: str) -> list[str]:
        return [key.rsplit(":", 1)[1] for key, _ in
                self.store.kv_items(LINKS, prefix=f"{session_id}:")]


class ClientView(Protocol):
    client_id: str
    backchannel_logout_uri: str | None


def logout_token(keys: KeyRing, issuer: str, client_id: str, sub: str, sid: str,
                 now: float) -> str:
    """Back-Channel Logout 1.0 §2.4: iss, aud, iat, exp, jti, events, sub and sid; typ
    ``logout+jwt`` (§2.4 recommends explicit typing); no nonce."""
    claims = {"iss": issuer, "aud": client_id, "iat": int(now),
              "exp": int(now) + LOGOUT_TOKEN_LIFETIME, "jti": secrets.token_urlsafe(16),
              "events": {BACKCHANNEL_EVENT: {}}, "sub": sub, "sid": sid}
    return keys.sign(claims, typ="logout+jwt")[0]


def deliver(uri: str, token: str) -> str | None:
    """POST the token (§2.5); None on success (any 2xx), else why it failed."""
    try:
        response = requests.post(uri, data={"logout_token": token}, timeout=DELIVERY_TIMEOUT,
                                 allow_redirects=False,
                                 headers={"Cache-Control": "no-store"})
    except requests.RequestException as exc:
        return type(exc).__name__
    return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"


def fan_out_round(store: Store, keys: KeyRing, issuer: str,
                  clients: Callable[[str], ClientView | None],
                  sid_of: Callable[[str], str], now: float | None = None,
                  send: Callable[[str, str], str | None] = deliver) -> int:
    """One round: tell the clients of every ended session. Returns how many tokens were
    delivered. At most one instance runs a round at a time (a store lock)."""
    now = time.time() if now is None else now
    if not store.kv_add("lock", "broker-logout", b"1", ROUND_INTERVAL * 0.9):
        return 0
    delivered = 0
    alive: dict[str, bool] = {}
    for key, raw in store.kv_items(LINKS):
        session_id, _, client_id = key.rpartition(":")
        if session_id not in alive:
            alive[session_id] = store.get_session(session_id) is not None
        if alive[session_id]:
            continue
        client = clients(client_id)
        if client is None or not client.backchannel_logout_uri:
            store.kv_delete(LINKS, key)
            continue
        state = _state(raw)
        if state["next"] > now:
            continue
        token = logout_token(keys, issuer, client_id, state["user"], sid_of(session_id), now)
        failure = send(client.backchannel_logout_uri, token)
        attempt = state["attempts"] + 1
        if failure is None or attempt > len(RETRY_AFTER):
            store.kv_delete(LINKS, key)
            delivered += failure is None
            log.log(logging.INFO if failure is None else logging.WARNING,
                    "back-channel logout of %r to client %s: %s", state["user"], client_id,
                    "delivered" if failure is None else f"gave up after {attempt} attempts "
                    f"({failure})")
            audit.record(store, "logout", kind="broker_backchannel", client=client_id,
                         user=state["user"], outcome="delivered" if failure is None
                         else "failed", attempts=attempt, **({"error": failure}
                                                             if failure else {}))
        else:
            log.info("back-channel logout to client %s failed (%s); retrying in %gs",
                     client_id, failure, RETRY_AFTER[attempt - 1])
            store.kv_set(LINKS, key, json.dumps({**state, "attempts": attempt,
                                                 "next": now + RETRY_AFTER[attempt - 1]}
                                                ).encode(), LINK_TTL)
    return delivered


def _state(raw: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        data = {}
    return {"user": str(data.get("user", "")), "attempts": int(data.get("attempts", 0)),
            "next": float(data.get("next", 0))}


def safe_round(run: Callable[[], int]) -> None:
    """A round that never kills its thread (the store may be down for a while)."""
    try:
        run()
    except StoreUnavailable as exc:
        log.warning("back-channel logout round skipped: store unavailable (%s)", exc)
    except Exception:
        log.exception("back-channel logout round failed")
