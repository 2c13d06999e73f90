"""The real OpenID provider for end-to-end tests: node oidc-provider 9 (tests/oidc-provider).

Keys are made here with joserfc, so tests hold the provider's private keys and can mint their
own logout tokens. Sign-in uses the provider's own forms (tests/oidc-provider/pages.js); see
tests/support/signin.py.
"""

from __future__ import annotations

import copy
import json
import secrets
import shutil
from pathlib import Path
from typing import Any

import requests
from joserfc.jwk import ECKey, KeySet, RSAKey

from tests.support.net import free_port
from tests.support.process import Component

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc-provider"

#: Accepted for every user that has no `password` of its own.
TEST_PASSWORD = "test-password"

DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "alice": {
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice Example",
        "preferred_username": "alice",
        "groups": ["staff", "admins"],
        "department": "Engineering",
        "phone_number": "+1 555 0100",
    },
    "bob": {
        "email": "bob@example.org",
        "email_verified": True,
        "name": "Bob Other",
        "preferred_username": "bob",
        "groups": ["guests"],
        "department": "Sales",
        "phone_number": "+1 555 0101",
    },
}


def make_keys() -> KeySet:
    """One RSA (RS256/PS256) and one P-256 (ES256) signing key, with kids."""
    return KeySet([
        RSAKey.generate_key(2048, parameters={"kid": f"rsa-{secrets.token_hex(4)}", "use": "sig"}),
        ECKey.generate_key("P-256", parameters={"kid": f"ec-{secrets.token_hex(4)}", "use": "sig"}),
    ])


def client_metadata(
    client_id: str,
    client_secret: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    token_endpoint_auth_method: str = "client_secret_basic",
    id_token_signed_response_alg: str = "RS256",
    **extra: Any,
) -> dict[str, Any]:
    """Client registration in the provider's (snake_case, RFC 7591) form."""
    client = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout_redirect_uris or []),
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "id_token_signed_response_alg": id_token_signed_response_alg,
        "response_types": ["code"],
        "grant_types": ["authorization_code", "refresh_token"],
        **extra,
    }
    if backchannel_logout_uri:
        client["backchannel_logout_uri"] = backchannel_logout_uri
        client.setdefault("backchannel_logout_session_required", True)
    return client


def _with_defaults(client: dict[str, Any]) -> dict[str, Any]:
    return client_metadata(**client)


class OidcProvider(Component):
    """Runs `node provider.js cfg.json` on 127.0.0.1:<port>.

    `users` maps account id -> claims (an optional `password` key is not a claim: it replaces
    TEST_PASSWORD for that user). The sign-in form accepts the account id or the e-mail.
    `ttl` overrides token lifetimes in seconds (AccessToken, IdToken, RefreshToken, Session, ...).
    `brand` names the provider on its pages; `hint` is a line under the sign-in form.
    Keys, port and cookie keys stay the same across stop()/start(), so a restart looks like the
    same provider to the gateway.
    """

    name = "oidc-provider"
    log_name = "oidc-provider.log"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        clients: list[dict[str, Any]] | None = None,
        users: dict[str, dict[str, Any]] | None = None,
        issuer: str | None = None,
        *,
        keys: KeySet | None = None,
        ttl: dict[str, int] | None = None,
        resources: dict[str, dict[str, Any]] | None = None,
        brand: str = "Test OpenID provider",
        hint: str = "",
    ) -> None:
        super().__init__(workdir, port or free_port())
        self.issuer = (issuer or f"http://127.0.0.1:{self.port}").rstrip("/")
        self.clients = [_with_defaults(c) for c in (clients or [])]
        self.users = copy.deepcopy(users if users is not None else DEFAULT_USERS)
        self.private_jwks: KeySet = keys or make_keys()
        self.ttl = dict(ttl or {})
        # resource indicator -> {"audience", "scope", "format": jwt|opaque, "ttl"} (RFC 8707)
        self.resources = dict(resources or {})
        self.brand, self.hint = brand, hint
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config_path = self.workdir / "oidc-provider.json"
        self._cookie_keys = [secrets.token_hex(16)]

    @property
    def public_jwks(self) -> dict[str, Any]:
        return self.private_jwks.as_dict(private=False)

    def _write_config(self) -> None:
        config = {
            "port": self.port,
            "host": "127.0.0.1",
            "issuer": self.issuer,
            "clients": self.clients,
            "users": self.users,
            "default_password": TEST_PASSWORD,
            "jwks": self.private_jwks.as_dict(private=True),
            "cookie_keys": self._cookie_keys,
            "ttl": self.ttl,
            "resources": self.resources,
            "brand": self.brand,
            "hint": self.hint,
        }
        self.config_path.write_text(json.dumps(config, indent=1))
        self.config_path.chmod(0o600)

    def launch(self) -> None:
        node = shutil.which("node")
        if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("node or tests/oidc-provider/node_modules missing: "
                               "run tests/bootstrap.sh")
        self._write_config()
        self.process.start([node, "provider.js", str(self.config_path)], cwd=PROVIDER_DIR)

    def wait_ready(self, timeout: float) -> None:
        self.wait_url(f"{self.base_url}/.well-known/openid-configuration", timeout)

    # -- inspection (test endpoints of provider.js and public metadata)

    def _get(self, path: str) -> Any:
        response = requests.get(f"{self.base_url}{path}", timeout=5)
        response.raise_for_status()
        return response.json()

    def discovery(self) -> dict[str, Any]:
        return self._get("/.well-known/openid-configuration")

    def last_auth_params(self) -> dict[str, str]:
        """Query parameters of the last GET /auth, exactly as received (unknown ones too)."""
        return self._get("/__test__/last-auth")

    def auth_requests(self) -> list[dict[str, str]]:
        return self._get("/__test__/auth-requests")

    def client_credentials_token(self, client_id: str, client_secret: str, resource: str,
                                 scope: str | None = None) -> str:
        """An access token for ``resource`` from the client credentials grant."""
        data = {"grant_type": "client_credentials", "resource": resource}
        if scope:
            data["scope"] = scope
        response = requests.post(f"{self.base_url}/token", data=data,
                                 auth=(client_id, client_secret), timeout=10)
        response.raise_for_status()
        return response.json()["access_token"]

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        """A JWT signed with the provider's own RSA key (for tokens the flows cannot make)."""
        from joserfc import jwt

        key = next(k for k in self.private_jwks.keys if k.key_type == "RSA")
        return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt", **(header or {})},
                          claims, key)

    def set_level(self, acr: str | None, amr: list[str] | None = None) -> None:
        """Make the next sign-ins count as ``acr`` (and ``amr``) in the ID tokens."""
        params = {k: v for k, v in {"acr": acr, "amr": ",".join(amr or [])}.items() if v}
        response = requests.post(f"{self.base_url}/__test__/level", params=params, timeout=10)
        response.raise_for_status()

    def ignore_step_up(self, on: bool = True) -> None:
        """Make the provider ignore ``prompt``, ``max_age`` and ``acr_values`` in authorization
        requests (reusing its session as it is), as a provider that does not honour a
        step-up would; ``last_auth_params`` still shows what was sent."""
        response = requests.post(f"{self.base_url}/__test__/ignore-step-up",
                                 params={"on": "1" if on else "0"}, timeout=10)
        response.raise_for_status()

    def backchannel_deliveries(self) -> list[dict[str, Any]]:
        """Every back-channel logout POST: url, logout_token, status (or error), at (ms)."""
        return self._get("/__test__/backchannel")

    def frontchannel_logout_url(self, account: str) -> str:
        """The provider's logged-out page for ``account``: opening it ends the account's
        sessions and embeds each client's ``frontchannel_logout_uri`` (Front-Channel Logout
        1.0) in an iframe, with ``iss`` and ``sid``."""
        return f"{self.base_url}/__test__/frontchannel-logout?account={account}"

    def end_sessions(self, account: str) -> dict[str, Any]:
        """End the account's sessions at the provider (as an admin would), sending back-channel
        logout tokens to the clients that registered a backchannel_logout_uri."""
        response = requests.post(
            f"{self.base_url}/__test__/end-sessions", params={"account": account}, timeout=10
        )
        response.raise_for_status()
        return response.json()
