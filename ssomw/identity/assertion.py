"""The signed identity assertion (contract §9, ``headers.assertion``): a short JWT per app.

Apps that read identity from plain headers must trust the network path to the proxy; this
header lets them verify it instead: a JWT signed with the gateway's own key (``keys.py``,
ES256, published at ``<prefix>/.well-known/jwks.json``) with

* ``iss``: the gateway's public URL — ``server.public_url`` + the path prefix, else the
  scheme, host and port of the request + the path prefix;
* ``aud``: the app id (a token for one app is worth nothing at another);
* ``sub`` (the user, as ``X-Auth-Request-User``), ``email``, ``name``, ``groups`` (a list,
  the same groups as ``X-Auth-Request-Groups``);
* ``iat``, ``exp`` = ``iat`` + :data:`LIFETIME` (5 minutes).

Signing on every request would cost the hot path, so a token is reused for the same
identity, app and issuer for :data:`REUSE` seconds (a bounded in-process memo): an app always
gets one with at least four minutes to live. The memo is keyed by the values that go into the
token, so a change of groups makes a new one at once, and a token is reused only while its key
still signs (a rotation is in force within ``KEY_REFRESH`` seconds).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ssomw.core.memo import Memo
from ssomw.identity.keys import MAX_TOKEN_LIFETIME, KeyRing, NoSigningKey
from ssomw.store.base import StoreUnavailable

log = logging.getLogger("ssomw.assertion")

LIFETIME = MAX_TOKEN_LIFETIME  # 300 s
REUSE = 60.0


class Assertions:
    """Makes (and briefly reuses) the assertion for an identity at an app."""

    def __init__(self, ring: KeyRing, public_url: str | None, prefix: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.ring = ring
        self.public_issuer = public_url.rstrip("/") + prefix if public_url else None
        self.prefix = prefix
        self.clock = clock
        self._made: Memo[tuple[Any, ...], tuple[str, float, str]] = Memo(8192)
        self._warned = float("-inf")

    def issuer(self, original_url: str) -> str:
        """``iss``: the configured public URL, else the origin of the request (already parsed
        once by the caller: well-formed) + the prefix."""
        if self.public_issuer:
            return self.public_issuer
        parts = urlsplit(original_url)
        host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname \
            else parts.hostname
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{self.prefix}"

    def token(self, attributes: Mapping[str, Any], app_id: str, issuer: str) -> str | None:
        """The assertion for these identity attributes (``attributes_of`` a session, or a
        bearer token's) at ``app_id``; None when it cannot be signed now (logged)."""
        groups = tuple(sorted(str(g) for g in attributes.get("groups") or ()))
        user, email, name = (attributes.get("user"), attributes.get("email"),
                             attributes.get("name"))
        key = (app_id, issuer, user, email, name, groups)
        now = self.clock()
        claims: dict[str, Any] = {"iss": issuer, "aud": app_id, "sub": user,
                                  "groups": list(groups), "iat": int(now),
                                  "exp": int(now) + int(LIFETIME)}
        if email:
            claims["email"] = email
        if name:
            claims["name"] = name
        try:
            made = self._made.get(key)
            if made is not None and now - made[1] < REUSE and made[2] == self.ring.active().kid:
                return made[0]
            token, kid = self.ring.sign(claims)
        except (NoSigningKey, StoreUnavailable) as exc:
            # No header is no door: an app that verifies assertions refuses the request.
            if now - self._warned > 60:  # once a minute, not once a request
                self._warned = now
                log.error("no identity assertion sent: %s", exc)
            return None
        self._made.put(key, (token, now, kid))
        return token
