"""Admin API tokens: random bearer tokens of which only a hash is ever kept.

Two sources, checked in this order:

* **store** tokens, made by ``ssomw token create``: ``ssomw_<id>_<secret>``, ``id`` 16 hex
  digits naming the stored record (one lookup, no scan), ``secret`` 32 random bytes
  (base64url). The store holds ``sha256:<hex of SHA-256(secret)>`` with the name, scopes and
  creation time (kv namespace ``admin-tokens``, persistent), never the token.
* **config** tokens, ``admin.tokens: [{name, hash, scopes}]`` with ``hash: sha256:<hex>`` of
  the whole token string (``ssomw token create --for-config`` prints one).

Why SHA-256 and not argon2: password hashes are slow on purpose because passwords have little
entropy, so whoever holds the hash can guess them offline. A 256-bit random secret cannot be
guessed at any hash speed; a fast hash keeps each API request cheap and loses nothing. Digests
are compared with :func:`hmac.compare_digest`.

"Last used" lives apart from the token record (``admin-token-used``), written at most once per
token per minute: rewriting the record itself could resurrect a token revoked meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ssomw.config.schema import ADMIN_SCOPES
from ssomw.store.base import Store

TOKENS = "admin-tokens"
LAST_USED = "admin-token-used"
SEEN_GATE = "admin-token-seen"
SEEN_INTERVAL = 60.0
PREFIX = "ssomw"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TOKEN = re.compile(r"^ssomw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name, its scopes, and where it was defined."""

    name: str
    scopes: frozenset[str]
    source: str  # "config" or "store"

    def has(self, scope: str) -> bool:
        return scope in self.scopes


def sha256_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def matches(presented_hash: str, stored_hash: object) -> bool:
    return isinstance(stored_hash, str) and hmac.compare_digest(
        presented_hash.encode(), stored_hash.encode())


def new_token() -> tuple[str, str, str]:
    """(token, id, secret) for a fresh token."""
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return f"{PREFIX}_{token_id}_{secret}", token_id, secret


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes as a sorted list; ValueError naming any unknown one."""
    wanted = sorted({s.strip() for s in scopes if s.strip()})
    unknown = [s for s in wanted if s not in ADMIN_SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: "
                         f"{', '.join(ADMIN_SCOPES)}")
    if not wanted:
        raise ValueError(f"give at least one scope of {', '.join(ADMIN_SCOPES)}")
    return wanted


def config_entry(name: str, scopes: Iterable[str]) -> tuple[str, dict[str, Any]]:
    """A token for ``admin.tokens`` in the config file: (token, entry with its hash)."""
    if not NAME.match(name):
        raise ValueError("a token name is 1-64 letters, digits, '_', '.' or '-'")
    token, _, _ = new_token()
    return token, {"name": name, "hash": sha256_hash(token), "scopes": parse_scopes(scopes)}


class Tokens:
    """Store tokens plus the config's ``admin.tokens``, for one store."""

    def __init__(self, store: Store, config_tokens: Iterable[Mapping[str, Any]] = (),
                 clock: Any = time.time):
        self.store = store
        self.config_tokens = list(config_tokens)
        self.clock = clock

    def create(self, name: str, scopes: Iterable[str]) -> tuple[str, dict[str, Any]]:
        """A new store token: (the token, shown once; its record without the hash)."""
        if not NAME.match(name):
            raise ValueError("a token name is 1-64 letters, digits, '_', '.' or '-'")
        if name in {t["name"] for t in self.config_tokens}:
            raise ValueError(f"the config file already defines a token named {name!r}")
        if any(r["name"] == name for r in self._records()):
            raise ValueError(f"a token named {name!r} exists; revoke it first")
        token, token_id, secret = new_token()
        record = {"id": token_id, "name": name, "scopes": parse_scopes(scopes),
                  "hash": sha256_hash(secret), "created": round(self.clock(), 3)}
        if not self.store.kv_add(TOKENS, token_id, json.dumps(record).encode(), None):
            raise RuntimeError("token id collision; try again")
        return token, {k: v for k, v in record.items() if k != "hash"}

    def list(self) -> list[dict[str, Any]]:
        """Every token, both sources: name, scopes, created, last used — never hashes."""
        used = {key: float(raw) for key, raw in self.store.kv_items(LAST_USED)}
        out = [{"name": t["name"], "scopes": sorted(t["scopes"]), "source": "config",
                "created": None, "last_used": used.get(t["name"])} for t in self.config_tokens]
        out += [{"name": r["name"], "scopes": r["scopes"], "source": "store",
                 "created": r["created"], "last_used": used.get(r["name"])}
                for r in self._records()]
        return sorted(out, key=lambda t: t["name"])

    def revoke(self, name: str) -> bool:
        """Delete the store token named ``name``; False when there is none."""
        found = [key for key, raw in self.store.kv_items(TOKENS)
                 if json.loads(raw)["name"] == name]
        for key in found:
            self.store.kv_delete(TOKENS, key)
        if found:
            self.store.kv_delete(LAST_USED, name)
            self.store.kv_delete(SEEN_GATE, name)
        return bool(found)

    def verify(self, presented: str) -> Principal | None:
        """The principal for a presented token, or None (unknown, revoked or wrong)."""
        if not presented or len(presented) > 512:
            return None
        parsed = TOKEN.match(presented)
        if parsed:
            raw = self.store.kv_get(TOKENS, parsed.group(1))
            if raw is not None:
                record = json.loads(raw)
                if matches(sha256_hash(parsed.group(2)), record.get("hash")):
                    return Principal(record["name"], frozenset(record["scopes"]), "store")
        digest = sha256_hash(presented)
        found = None
        for entry in self.config_tokens:  # no early exit: same work whichever entry matches
            if matches(digest, entry.get("hash")) and found is None:
                found = Principal(entry["name"], frozenset(entry["scopes"]), "config")
        return found

    def seen(self, name: str) -> bool:
        """Record a use; True at most once a minute per token (the caller audits then)."""
        if not self.store.kv_add(SEEN_GATE, name, b"1", SEEN_INTERVAL):
            return False
        self.store.kv_set(LAST_USED, name, repr(round(self.clock(), 3)).encode(), None)
        return True

    def _records(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for _, raw in self.store.kv_items(TOKENS)]
