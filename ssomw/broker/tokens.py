"""What the broker keeps in the store: authorization codes and access tokens, and what a
session looks like to a client (the claims).

- **Codes** live ≤ :data:`CODE_LIFETIME` seconds under the SHA-256 of the code, bound to the
  client, redirect URI, PKCE challenge and the ssomw session; they are popped atomically
  (``kv_pop``), so two instances cannot both redeem one. A popped code leaves a *spent* mark
  listing the access tokens it gave: a second redemption revokes them (RFC 6749 §4.1.2).
- **Access tokens** are opaque random strings (Authlib's generator), kept under their hash
  for :data:`ACCESS_LIFETIME` seconds: short-lived, revocable at once on every instance, and
  worth nothing once the ssomw session behind them ends (userinfo re-reads the session).
- **Claims** come from the live session: ``sub`` is the ssomw user name (stable per user,
  whichever upstream provider signed them in); scopes decide the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo

from ssomw.broker.clients import Client
from ssomw.store.base import SessionRecord, Store
from ssomw.telemetry import audit

log = logging.getLogger("ssomw.broker")

CODES = "broker-code"
SPENT = "broker-code-spent"
TOKENS = "broker-token"
CODE_LIFETIME = 60.0
ACCESS_LIFETIME = 300.0   # ≤ the key ring's MAX_TOKEN_LIFETIME, like the ID token
ID_TOKEN_LIFETIME = 300


def digest(secret: str) -> str:
    """The store key for a code or token: the store never holds one in the clear."""
    return hashlib.sha256(secret.encode()).hexdigest()


def broker_sid(session_id: str) -> str:
    """The ``sid`` clients see for an ssomw session: derived, so it never reveals the
    session id (which is the cookie's secret)."""
    return hashlib.sha256(b"ssomw-broker-sid\0" + session_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class BrokerUser:
    """A signed-in ssomw user, as the broker hands them to a client."""

    session_id: str
    user: str
    provider: str
    email: str | None = None
    name: str | None = None
    preferred_username: str | None = None
    groups: tuple[str, ...] = ()
    profile: Mapping[str, Any] = field(default_factory=dict)
    auth_time: int | None = None
    acr: str | None = None

    @classmethod
    def of(cls, record: SessionRecord) -> BrokerUser:
        data = record.data
        auth_time = data.get("auth_time")
        acr = data.get("acr")
        profile = data.get("profile")
        return cls(session_id=record.id, user=record.user, provider=record.provider,
                   email=data.get("email"), name=data.get("name"),
                   preferred_username=data.get("preferred_username") or record.user,
                   groups=tuple(sorted(data.get("groups", ()))),
                   profile=dict(profile) if isinstance(profile, dict) else {},
                   auth_time=int(auth_time if isinstance(auth_time, (int, float))
                                 else record.created),
                   acr=acr if isinstance(acr, str) else None)

    @property
    def sid(self) -> str:
        return broker_sid(self.session_id)

    def get_user_id(self) -> str:
        return self.user


def claims_for(user: BrokerUser, scope: str) -> UserInfo:
    """OIDC Core §5.4: ``email`` → email; ``profile`` → name, preferred_username and the
    mapped profile attributes; ``groups`` → the mapped groups. ``sub`` always."""
    scopes = set(scope.split())
    info = UserInfo(sub=user.user)
    if "email" in scopes and user.email:
        info["email"] = user.email
        info["email_verified"] = True  # vouched for by the upstream provider at sign-in
    if "profile" in scopes:
        for key in ("name", "preferred_username"):
            if getattr(user, key):
                info[key] = getattr(user, key)
        for key, value in user.profile.items():
            if value not in (None, "") and key not in info:
                info[key] = value
    if "groups" in scopes:
        info["groups"] = list(user.groups)
    return info


@dataclass(frozen=True)
class Code(AuthorizationCodeMixin):
    """One authorization code's binding (RFC 6749 §4.1.2, RFC 7636 §4.4)."""

    client_id: str
    redirect_uri: str
    scope: str
    session_id: str
    user: str
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    auth_time: int | None = None
    acr: str | None = None
    digest: str = ""

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int | None:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str] | None:
        return None


class Codes:
    """Single-use codes in the store; a replay revokes what the first use gave."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, code: str, binding: Code) -> None:
        self.store.kv_set(CODES, digest(code), json.dumps(asdict(binding)).encode(),
                          CODE_LIFETIME)

    def redeem(self, code: str, client_id: str) -> Code | None:
        """The code's binding, once: popped atomically, so a second try finds nothing. A
        second try of a spent code revokes the tokens the first one gave."""
        key = digest(code)
        raw = self.store.kv_pop(CODES, key)
        if raw is None:
            revoked = self.revoke_spent(key)
            if revoked:
                log.warning("a spent code was presented again by %s: its tokens are revoked",
                            client_id)
                audit.record(self.store, "broker", event="code_replayed", client=client_id)
            return None
        binding = Code(**{**json.loads(raw), "digest": key})
        self.store.kv_set(SPENT, key, b"[]", ACCESS_LIFETIME + CODE_LIFETIME)
        if binding.client_id != client_id:  # bound to its client: spent, not given
            return None
        return binding

    def record_tokens(self, code: Code, access_token: str) -> None:
        self.store.kv_set(SPENT, code.digest, json.dumps([digest(access_token)]).encode(),
                          ACCESS_LIFETIME + CODE_LIFETIME)

    def revoke_spent(self, key: str) -> int:
        """Revoke the access tokens a spent code gave; how many (0 for an unknown code)."""
        raw = self.store.kv_pop(SPENT, key)
        if raw is None:
            return 0
        tokens = [t for t in json.loads(raw) if isinstance(t, str)]
        for token in tokens:
            self.store.kv_delete(TOKENS, token)
        return len(tokens) or 1  # a replay is reported even before its token existed


@dataclass(frozen=True)
class AccessToken(TokenMixin):
    """An opaque access token's record: who, for which client, which scopes, until when."""

    client: Client
    user: BrokerUser
    scope: str
    expires_at: float

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False  # revoked tokens are deleted from the store, so never found

    def get_user(self) -> BrokerUser:
        return self.user

    def get_client(self) -> Client:
        return self.client


class AccessTokens:
    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, token: str, client_id: str, session_id: str, scope: str) -> None:
        record = {"client_id": client_id, "session_id": session_id,
                  "scope": scope, "expires_at": time.time() + ACCESS_LIFETIME}
        self.store.kv_set(TOKENS, digest(token), json.dumps(record).encode(), ACCESS_LIFETIME)

    def find(self, token: str) -> dict[str, Any] | None:
        if not token or len(token) > 512:
            return None
        raw = self.store.kv_get(TOKENS, digest(token))
        return json.loads(raw) if raw is not None else None
