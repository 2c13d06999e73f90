"""``broker.clients``: the registered relying parties, and how each one proves who it is.

A client is Authlib's :class:`ClientMixin` over one frozen config entry: exact redirect URI
match (RFC 6749 §3.1.2.3, OAuth 2.0 Security BCP §4.1.3), the secret checked against its
argon2 hash (the config never holds the secret), ``public: true`` clients authenticate with
nothing at the token endpoint and must use PKCE (``server.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from authlib.oauth2.rfc6749 import ClientMixin

HASHER = PasswordHasher()  # verify() reads the parameters from each hash
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
MAX_SECRET = 512


@dataclass(frozen=True)
class Client(ClientMixin):
    client_id: str
    app: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    secret_hash: str | None = None
    public: bool = False
    backchannel_logout_uri: str | None = None
    name: str | None = None

    @classmethod
    def from_config(cls, entry: Mapping[str, Any]) -> Client:
        return cls(client_id=entry["client_id"], app=entry["app"],
                   redirect_uris=tuple(entry["redirect_uris"]),
                   post_logout_redirect_uris=tuple(entry.get("post_logout_redirect_uris", ())),
                   scopes=tuple(entry.get("scopes", ("openid",))),
                   secret_hash=entry.get("client_secret_hash"),
                   public=bool(entry.get("public", False)),
                   backchannel_logout_uri=entry.get("backchannel_logout_uri"),
                   name=entry.get("name"))

    @property
    def client_metadata(self) -> dict[str, Any]:
        """What Authlib's end-session endpoint reads (registered post-logout URIs)."""
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """Only a client with exactly one registered URI may omit ``redirect_uri``
        (RFC 6749 §3.1.2.3); OIDC clients always send it."""
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in the order asked (unknown ones are
        dropped, RFC 6749 §3.3 lets the server narrow the scope)."""
        asked = (scope or "").split()
        return " ".join(dict.fromkeys(s for s in asked if s in self.scopes))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match with a registered URI: no prefix, no pattern."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.public or not self.secret_hash or not client_secret:
            return False
        if len(client_secret) > MAX_SECRET:
            return False
        try:
            return HASHER.verify(self.secret_hash, client_secret)
        except (VerificationError, InvalidHashError):
            return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Confidential clients: ``client_secret_basic`` or ``client_secret_post``; public
        clients: ``none`` (and PKCE, enforced by the grant)."""
        if endpoint != "token":
            return False
        return method == "none" if self.public else method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


def described(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A client as ``explain``, the admin API and ``ssomw broker client list`` show it: every
    setting but the secret hash (only whether it has one)."""
    return {"client_id": entry["client_id"], "name": entry.get("name"), "app": entry["app"],
            "public": bool(entry.get("public", False)),
            "has_secret": "client_secret_hash" in entry,
            "redirect_uris": list(entry["redirect_uris"]),
            "post_logout_redirect_uris": list(entry.get("post_logout_redirect_uris", [])),
            "backchannel_logout_uri": entry.get("backchannel_logout_uri"),
            "scopes": list(entry.get("scopes", []))}


class Clients:
    """The configured clients by id (built once per configuration)."""

    def __init__(self, entries: list[Mapping[str, Any]]) -> None:
        self._by_id = {e["client_id"]: Client.from_config(e) for e in entries}

    def get(self, client_id: object) -> Client | None:
        return self._by_id.get(client_id) if isinstance(client_id, str) else None

    def __iter__(self) -> Iterator[Client]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
