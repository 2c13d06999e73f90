"""The provider's signing keys (JWKS), cached, refreshed on rotation but never on demand.

Providers rotate keys by publishing a new ``kid``; the cache answers a token whose ``kid`` it
does not know with a forced refresh. Anyone can make up a ``kid`` (a forged back-channel
logout token costs nothing), so forced refreshes are bounded without letting such tokens
stop a genuine rotation from being picked up:

* a short **floor** between two forced refreshes (``min_fetch_interval``, 1 s): at most one
  such fetch a second per worker, whatever arrives;
* a **per-kid negative cache**: a ``kid`` that a fetch just showed to be absent is refused
  without fetching for ``negative_ttl`` (60 s) — for tokens anyone can send only;
* a token that came **from the provider** itself (the token endpoint's answer, over the
  gateway's own TLS connection) waits out the floor instead of being refused, and ignores
  the negative cache (an attacker could have guessed the next ``kid``): a real rotation is
  seen at the latest a second after any forged token;
* callers spend no refresh on a token that fails cheaper checks first (``may_refresh``:
  see :func:`ssomw.oidc.tokens.plausible`).

The set is also refreshed when older than ``max_age`` so that keys the provider withdraws
stop being trusted; if that routine refresh fails the previous keys are kept (a provider
hiccup must not lock every user out) and the refresh is retried after
``min_refresh_interval``.

Usage::

    cache = JwksCache(discovery["jwks_uri"], fetch=fetch_json)
    key = cache.find(header.get("kid"), header["alg"], from_provider=True)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, KeySet
from joserfc.jws import JWSRegistry

from ssomw.oidc.errors import TokenError

log = logging.getLogger(__name__)

#: Curves that can verify an ``EdDSA`` signature (an X25519 OKP key cannot).
_EDDSA_CURVES = frozenset({"Ed25519", "Ed448"})


def key_fits(key: Key, alg: str) -> bool:
    """True when ``key`` can verify a JWS made with ``alg``: right type, curve, use and alg.

    RFC 7517 §4.2: "The "use" (public key use) parameter identifies the intended use of the
    public key."  A key published for encryption, for another algorithm, or of another type,
    must not be used to check a signature.
    """
    model = JWSRegistry.algorithms.get(alg)
    if model is None:
        return False
    try:
        model.check_key(key)
        key.check_key_op("verify")
    except (JoseError, ValueError, AssertionError):
        return False
    if alg == "EdDSA":
        return key.get("crv") in _EDDSA_CURVES
    return True


def _parse_key_set(document: Any) -> KeySet:
    """Import the asymmetric keys of a JWKS document, skipping keys we cannot use.

    RFC 7517 §5: "Implementations SHOULD ignore JWKs within a JWK Set that use "kty" (key type)
    values that are not understood by them, that are missing required members, or for which
    values are out of the supported ranges."  Symmetric ("oct") keys are dropped too: OIDC
    derives HMAC keys from the client secret, never from a published set.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise TokenError("jwks_invalid", "provider key set is not a JSON object with keys")
    keys: list[Key] = []
    for data in document["keys"]:
        if not isinstance(data, dict) or data.get("kty") == "oct":
            continue
        try:
            keys.append(JWKRegistry.import_key(data))
        except (JoseError, ValueError, TypeError, KeyError):
            log.warning("ignoring an unusable key in the provider's JWKS")
    return KeySet(keys)


class JwksCache:
    """Lazily fetched, thread-safe cache of one provider's JWKS.

    ``fetch(jwks_uri)`` returns the parsed JSON document (the caller owns HTTP, timeouts and
    TLS). ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        jwks_uri: str,
        fetch: Callable[[str], dict],
        min_refresh_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_age: float = 3600.0,
        min_fetch_interval: float = 1.0,
        negative_ttl: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.jwks_uri = jwks_uri
        self._fetch = fetch
        self._min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._max_age = max_age
        self._floor = min_fetch_interval
        self._negative_ttl = negative_ttl
        self._sleep = sleep
        self._lock = threading.Lock()
        # (key set, generation): the generation is bumped on every successful fetch
        self._state: tuple[KeySet, int] | None = None
        self._refresh_due = 0.0  # when the cached set is due for a routine refresh
        self._last_forced: float | None = None  # the last refresh for an unknown kid
        self._absent: dict[str, float] = {}  # kid -> when a fetch showed it absent

    def key_set(self) -> KeySet:
        """The current key set, fetching it on first use or when it is older than max_age."""
        return self._snapshot()[0]

    def _snapshot(self) -> tuple[KeySet, int]:
        """The key set and its generation, read together (one attribute, so atomically)."""
        state = self._state
        if state is not None and self._clock() < self._refresh_due:
            return state
        with self._lock:
            if self._state is None:
                self._refresh_locked()
            elif self._clock() >= self._refresh_due:
                try:
                    self._refresh_locked()
                except TokenError:
                    # keep the previous keys; try again after the rate-limit interval
                    self._refresh_due = self._clock() + self._min_refresh_interval
            assert self._state is not None
            return self._state

    def find(self, kid: str | None, alg: str, *, from_provider: bool = False,
             may_refresh: bool = True) -> Key:
        """The key that verifies a token with this ``kid`` and ``alg``.

        OIDC Core §10.1: "If there are multiple keys in the referenced JWK Set document, a kid
        value MUST be provided in the JOSE Header."  An unknown ``kid`` (or no fitting key)
        gets a forced refresh within the limits above; then ``unknown_kid``.
        """
        keys, generation = self._snapshot()
        key = _select(keys, kid, alg)
        if key is not None:
            return key
        if not may_refresh or (not from_provider and self._known_absent(kid)):
            raise TokenError("unknown_kid")
        if not self._forced_refresh(generation, wait=from_provider):
            raise TokenError("unknown_kid")
        key = _select(self.key_set(), kid, alg)
        if key is None:
            self._note_absent(kid)
            raise TokenError("unknown_kid")
        return key

    def _known_absent(self, kid: str | None) -> bool:
        seen = self._absent.get(kid or "")
        return seen is not None and self._clock() - seen < self._negative_ttl

    def _note_absent(self, kid: str | None) -> None:
        if len(self._absent) >= 1024:
            self._absent.clear()  # bounded; forgetting costs at most one fetch per second
        self._absent[kid or ""] = self._clock()

    def _forced_refresh(self, seen_generation: int, wait: bool) -> bool:
        """Refetch because of an unknown kid; False when the floor forbids it and ``wait``
        is off. With ``wait`` the floor is waited out (at most ``min_fetch_interval``)."""
        with self._lock:
            if self._state is not None and self._state[1] != seen_generation:
                return True  # another thread refreshed while we waited: look again
            last = self._last_forced
            if last is not None:
                early = last + self._floor - self._clock()
                if early > 0:
                    if not wait:
                        return False
                    self._sleep(min(early, self._floor))
            self._last_forced = self._clock()
            self._refresh_locked()
            return True

    def _refresh_locked(self) -> None:
        """Fetch and parse the JWKS; the caller holds the lock."""
        try:
            document = self._fetch(self.jwks_uri)
        except Exception as exc:  # the injected fetcher may raise anything
            log.warning("fetching JWKS from %s failed: %s", self.jwks_uri, type(exc).__name__)
            raise TokenError("jwks_unavailable") from exc
        keys = _parse_key_set(document)
        generation = self._state[1] + 1 if self._state is not None else 1
        self._state = (keys, generation)
        self._refresh_due = self._clock() + self._max_age


def _select(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    """The fitting key for ``kid``; without a kid, the only fitting key, if there is one."""
    if kid is not None:
        for key in keys:
            if key.kid == kid and key_fits(key, alg):
                return key
        return None
    fitting = [key for key in keys if key_fits(key, alg)]
    if len(fitting) > 1:
        raise TokenError("kid_ambiguous")
    return fitting[0] if fitting else None
