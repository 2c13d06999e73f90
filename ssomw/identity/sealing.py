"""Secrets the gateway keeps in its store, sealed: its signing keys and emergency TOTP secrets.

The store is shared by every instance and may be copied (a Redis dump, a SQLite backup), so
what would let someone sign identities or pass a second factor is kept encrypted under keys
that live only in the configuration: AES-256-GCM (``cryptography``) with a key derived by
HKDF-SHA256 from each of ``session.secret_keys``. The first seals; every listed key opens, so
the session keys rotate as they always did. A value opened with an older key reports it, and
its owner seals it again with the first, so dropping an old session key later loses nothing
that has been used since. Each value is bound to its place (``context``, the AEAD's associated
data): a sealed value copied to another key of the store does not open there.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "s1."
NONCE = 12


@dataclass(frozen=True)
class Opened:
    data: bytes
    stale: bool  # opened with a key other than the first: seal it again


class Sealer:
    """Seals and opens small values for one ``purpose`` (part of the derived key)."""

    def __init__(self, secret_keys: Sequence[str], purpose: str) -> None:
        if not secret_keys:
            raise ValueError("sealing needs at least one secret key")
        self._keys = [AESGCM(HKDF(hashes.SHA256(), 32, salt=None,
                                   info=f"ssomw seal v1: {purpose}".encode()
                                   ).derive(key.encode())) for key in secret_keys]

    def seal(self, data: bytes, context: str) -> str:
        nonce = secrets.token_bytes(NONCE)
        sealed = self._keys[0].encrypt(nonce, data, context.encode())
        return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, text: str, context: str) -> Opened | None:
        """The value, or None when no configured key opens it (or it is not a sealed value)."""
        if not isinstance(text, str) or not text.startswith(VERSION):
            return None
        body = text[len(VERSION):]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            return None
        nonce, sealed = raw[:NONCE], raw[NONCE:]
        for index, key in enumerate(self._keys):
            try:
                return Opened(key.decrypt(nonce, sealed, context.encode()), index > 0)
            except (InvalidTag, ValueError):
                continue
        return None
