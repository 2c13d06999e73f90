"""One configured OpenID provider: its metadata (discovery or explicit), keys and HTTP access.

Metadata is fetched lazily, cached per process, refreshed hourly, and a stale copy is kept when
the provider is briefly unreachable. The discovered ``issuer`` must equal the configured one
exactly (OIDC Discovery §4.3), which also protects against IdP mix-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from ssomw.oidc.errors import TokenError
from ssomw.oidc.jwks import JwksCache
from ssomw.oidc.tokens import TokenPolicy

METADATA_TTL = 3600.0
PROBE_TTL = 1.0
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
              "EdDSA")
EXPLICIT_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                      "jwks_uri", "end_session_endpoint")
MAX_DOCUMENT_BYTES = 1 << 20


class ProviderUnavailable(Exception):
    """The provider's metadata or keys could not be fetched; sign-in cannot start."""


def fetch_json(session: requests.Session, url: str, timeout: float) -> dict[str, Any]:
    """GET a JSON document with a timeout and a size cap; raise ProviderUnavailable."""
    try:
        response = session.get(url, timeout=timeout, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered {response.status_code}")
        if len(response.content) > MAX_DOCUMENT_BYTES:
            raise ProviderUnavailable(f"{url} sent an oversized document")
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"{url}: {type(exc).__name__}") from exc
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url} did not send a JSON object")
    return document


class Provider:
    def __init__(self, settings: dict[str, Any], http: requests.Session | None = None,
                 clock: Callable[[], float] = time.time):
        self.settings = settings
        self.id: str = settings["id"]
        self.http = http or requests.Session()
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._jwks: JwksCache | None = None
        self._probed_ok = float("-inf")

    @property
    def display_name(self) -> str:
        return self.settings.get("name") or self.id

    @property
    def timeout(self) -> float:
        return float(self.settings["timeout"])

    def metadata(self) -> dict[str, Any]:
        """Discovery merged with explicit endpoints; raises ProviderUnavailable."""
        with self._lock:
            fresh = self._metadata is not None and self.clock() - self._fetched_at < METADATA_TTL
            if fresh:
                return self._metadata  # type: ignore[return-value]
            try:
                self._metadata = self._load_metadata()
                self._fetched_at = self.clock()
            except ProviderUnavailable:
                if self._metadata is None:
                    raise
            return self._metadata

    def _load_metadata(self) -> dict[str, Any]:
        explicit = {k: self.settings[k] for k in EXPLICIT_ENDPOINTS if k in self.settings}
        required = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if all(k in explicit for k in required):
            return {"issuer": self.settings["issuer"], **explicit}
        url = self.settings["issuer"].rstrip("/") + "/.well-known/openid-configuration"
        document = fetch_json(self.http, url, self.timeout)
        if document.get("issuer") != self.settings["issuer"]:
            raise ProviderUnavailable("discovery issuer does not match the configured issuer")
        missing = [k for k in required if not isinstance({**document, **explicit}.get(k), str)]
        if missing:
            raise ProviderUnavailable(f"discovery lacks {', '.join(missing)}")
        return {**document, **explicit}

    def ensure_reachable(self) -> None:
        """Before sending a browser to the provider: is it answering right now?

        Cached metadata would otherwise send users to a dead provider and a browser error
        page; a probe (its keys document, short timeout, success remembered for
        ``PROBE_TTL`` seconds) lets the gateway show its own PROVIDER_UNAVAILABLE page instead.
        """
        now = self.clock()
        if now - self._probed_ok < PROBE_TTL:
            return
        uri = self.endpoint("jwks_uri")
        try:
            response = self.http.get(uri, timeout=min(2.0, self.timeout))
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"{uri}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise ProviderUnavailable(f"{uri} answered {response.status_code}")
        self._probed_ok = now

    def endpoint(self, name: str) -> str | None:
        value = self.metadata().get(name)
        return value if isinstance(value, str) else None

    def jwks(self) -> JwksCache:
        if self._jwks is None:
            uri = self.endpoint("jwks_uri")
            assert uri, "metadata() guarantees jwks_uri"

            def fetch(url: str) -> dict[str, Any]:
                try:
                    return fetch_json(self.http, url, self.timeout)
                except ProviderUnavailable as exc:
                    raise TokenError("jwks_unavailable") from exc

            self._jwks = JwksCache(uri, fetch)
        return self._jwks

    def token_policy(self) -> TokenPolicy:
        discovered = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        return TokenPolicy(
            issuer=self.settings["issuer"],
            client_id=self.settings["client_id"],
            client_secret=self.settings.get("client_secret"),
            pinned_alg=self.settings.get("id_token_signed_response_alg"),
            discovered_algs=tuple(a for a in discovered if isinstance(a, str)),
            leeway=float(self.settings["leeway"]),
        )


class Providers:
    """The per-process registry of configured providers."""

    def __init__(self, settings: list[dict[str, Any]]):
        http = requests.Session()
        self._by_id = {p["id"]: Provider(p, http) for p in settings}

    def get(self, provider_id: str) -> Provider | None:
        return self._by_id.get(provider_id)

    def __iter__(self):
        return iter(self._by_id.values())
