"""The session cookie carries only a signed, random session id; everything else is server-side.

Signing is itsdangerous' HMAC-SHA256 over the id with a list of keys: the first configured key
signs and every key verifies, so keys can be rotated without signing anyone out.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

from itsdangerous import BadSignature, Signer

MAX_COOKIE_LENGTH = 512


class CookieCodec:
    def __init__(self, secret_keys: Sequence[str], salt: str = "ssomw.session"):
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        # itsdangerous signs with the *last* key of the list; our contract says the first.
        self._signer = Signer(
            list(reversed(secret_keys)), salt=salt, key_derivation="hmac",
            digest_method=hashlib.sha256,
        )
        # Verifying a signature is a pure function of the cookie, and the auth hot path sees
        # the same few cookies over and over: remember recent answers (bounded).
        self.loads = functools.lru_cache(maxsize=8192)(self._loads)  # type: ignore[method-assign]

    def dumps(self, session_id: str) -> str:
        return self._signer.sign(session_id.encode("ascii")).decode("ascii")

    def _loads(self, value: str | None) -> str | None:
        """The session id, or None for a missing, oversized, malformed or forged cookie."""
        if not value or len(value) > MAX_COOKIE_LENGTH:
            return None
        try:
            return self._signer.unsign(value.encode("ascii", "strict")).decode("ascii")
        except (BadSignature, UnicodeError, ValueError):
            return None
