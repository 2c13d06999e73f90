"""The gateway's own signing keys, kept in the store: every instance signs with and publishes
the same set (``GET <prefix>/.well-known/jwks.json``).

Used for the signed identity assertion (``headers.assertion``), and meant for anything else
the gateway signs as itself (ID tokens, should it act as an OpenID provider). ES256 (P-256),
made and used through joserfc.

Keys are *generations* in the store namespace :data:`NAMESPACE`, one entry each under a
zero-padded number, created only with ``kv_add`` — so two instances that create the first
key, or rotate, at the same moment agree on one winner. The newest generation signs. An older
one retired when the next was made and stays published for :data:`PUBLISH_AFTER_RETIRED`
seconds: longer than any token it signed can live (:data:`MAX_TOKEN_LIFETIME`), plus the time
an instance may still sign with it before it reads the new set (:data:`KEY_REFRESH`), plus
clock skew. After that ``ssomw keys list`` shows it retired, and the next rotation drops its
private half. Private keys are sealed (``sealing.py``) under ``session.secret_keys`` and never
leave this module: no method returns or logs them.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from ssomw.identity.sealing import Sealer
from ssomw.store.base import Store

log = logging.getLogger("ssomw.keys")

NAMESPACE = "signing-keys"
ALG = "ES256"
MAX_TOKEN_LIFETIME = 300.0  # no token signed with these keys lives longer
KEY_REFRESH = 5.0           # how long a process keeps the set it read before reading it again
PUBLISH_AFTER_RETIRED = MAX_TOKEN_LIFETIME + KEY_REFRESH + 60.0  # + clock skew


class NoSigningKey(Exception):
    """The active key cannot be used (no configured secret opens it): run `ssomw keys rotate`."""


@dataclass(frozen=True)
class SigningKey:
    generation: int
    kid: str
    created: float
    retired: float | None    # when the next generation took over; None for the active key
    public: Mapping[str, Any]  # the public JWK (kid, alg, use)
    sealed: str | None       # the private JWK, sealed; None once dropped after retirement

    def published(self, now: float) -> bool:
        return self.retired is None or now < self.retired + PUBLISH_AFTER_RETIRED

    def state(self, now: float) -> str:
        if self.retired is None:
            return "active"
        return "published" if self.published(now) else "retired"


def _entry_key(generation: int) -> str:
    return f"{generation:08d}"


class KeyRing:
    """One process's view of the gateway's keys; thread-safe, re-read every KEY_REFRESH s."""

    def __init__(self, store: Store, secret_keys: Sequence[str],
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.sealer = Sealer(secret_keys, "signing keys")
        self.clock = clock
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._keys: tuple[SigningKey, ...] = ()
        self._private: dict[str, ECKey] = {}  # kid -> opened key, for the process's life

    # -- reading ----------------------------------------------------------------------------
    def keys(self, fresh: bool = False) -> tuple[SigningKey, ...]:
        """Every generation, oldest first (read from the store at most every KEY_REFRESH s)."""
        now = self.clock()
        if fresh or now - self._read_at >= KEY_REFRESH:
            keys = self._read()
            with self._lock:
                self._keys, self._read_at = keys, now
        return self._keys

    def _read(self) -> tuple[SigningKey, ...]:
        entries = []
        for name, raw in self.store.kv_items(NAMESPACE):
            try:
                data = json.loads(raw)
                entries.append((int(name), data))
            except (ValueError, TypeError):
                log.error("unreadable signing key entry %r in the store: ignored", name)
        entries.sort(key=lambda item: item[0])
        keys = []
        for i, (generation, data) in enumerate(entries):
            retired = entries[i + 1][1]["created"] if i + 1 < len(entries) else None
            keys.append(SigningKey(generation, data["kid"], data["created"], retired,
                                   data["public"], data.get("sealed")))
        return tuple(keys)

    def jwks(self, fresh: bool = True) -> dict[str, Any]:
        """The published public keys (the active one and those retired recently), newest
        first; read afresh by default, so every instance publishes a new key at once."""
        now = self.clock()
        return {"keys": [dict(k.public) for k in reversed(self.keys(fresh))
                         if k.published(now)]}

    # -- signing ----------------------------------------------------------------------------
    def active(self) -> SigningKey:
        """The key that signs now; the first one is made here when there is none yet."""
        keys = self.keys()
        if not keys:
            self._add(1)
            keys = self.keys(fresh=True)
        return keys[-1]

    def sign(self, claims: Mapping[str, Any], typ: str = "JWT") -> tuple[str, str]:
        """A JWS of ``claims`` with the active key, and that key's ``kid`` (raises
        NoSigningKey, StoreUnavailable)."""
        key = self.active()
        private = self._opened(key)
        return jwt.encode({"alg": ALG, "kid": key.kid, "typ": typ}, dict(claims), private,
                          algorithms=[ALG]), key.kid

    def _opened(self, key: SigningKey) -> ECKey:
        private = self._private.get(key.kid)
        if private is not None:
            return private
        opened = self.sealer.open(key.sealed or "", key.kid)
        if opened is None:
            raise NoSigningKey(f"signing key {key.kid} cannot be opened with "
                               "session.secret_keys (was the key that sealed it removed?); "
                               "run `ssomw keys rotate`")
        private = ECKey.import_key(json.loads(opened.data))
        if opened.stale:  # sealed with an older session key: seal it with the first
            self._write(key.generation, key.kid, key.created, key.public,
                        self.sealer.seal(opened.data, key.kid), replace=True)
        with self._lock:
            self._private[key.kid] = private
        return private

    # -- changing ---------------------------------------------------------------------------
    def rotate(self) -> SigningKey:
        """Add a new generation (it signs from now on) and drop the private half of keys no
        longer published. Returns the new active key."""
        now = self.clock()
        keys = self.keys(fresh=True)
        for key in keys:
            if key.sealed is not None and not key.published(now):
                self._write(key.generation, key.kid, key.created, key.public, None,
                            replace=True)
        self._add(keys[-1].generation + 1 if keys else 1)
        return self.keys(fresh=True)[-1]

    def _add(self, generation: int) -> None:
        """Make generation ``generation``; losing the race to another instance is fine."""
        kid = f"{time.strftime('%Y%m%d', time.gmtime(self.clock()))}-{secrets.token_hex(4)}"
        key = ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)
        public = {**key.as_dict(private=False), "kid": kid, "alg": ALG, "use": "sig"}
        sealed = self.sealer.seal(json.dumps(key.as_dict(private=True)).encode(), kid)
        if self._write(generation, kid, self.clock(), public, sealed, replace=False):
            log.warning("signing key %s (generation %d) made; it signs from now on", kid,
                        generation)

    def _write(self, generation: int, kid: str, created: float, public: Mapping[str, Any],
               sealed: str | None, *, replace: bool) -> bool:
        entry = json.dumps({"kid": kid, "created": created, "public": dict(public),
                            **({"sealed": sealed} if sealed else {})}).encode()
        if replace:
            self.store.kv_set(NAMESPACE, _entry_key(generation), entry, None)
            return True
        return self.store.kv_add(NAMESPACE, _entry_key(generation), entry, None)

    def usable(self, key: SigningKey) -> bool:
        """Whether the configured secrets open ``key`` (for `ssomw keys list`)."""
        return key.sealed is not None and self.sealer.open(key.sealed, key.kid) is not None
