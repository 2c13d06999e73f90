"""Sign-in failures in-process: a rejected response never makes a session or calls further.

A fake provider answers the gateway's HTTP calls (discovery, JWKS, token, userinfo) through a
requests transport adapter and counts them; the gateway itself is the real Flask app.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from joserfc import jwt
from joserfc.jwk import RSAKey
from requests.adapters import BaseAdapter

import ssomw.oidc.client as client_module
from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.wsgi import Gateway

ISSUER = "https://idp.example.com"
KEY = RSAKey.generate_key(2048, {"kid": "k1", "use": "sig"})
ATTACKER = RSAKey.generate_key(2048, {"kid": "k1", "use": "sig"})


class FakeIdp(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {}
        self.nonce = ""
        self.claims: dict[str, Any] = {}
        self.header: dict[str, Any] = {"alg": "RS256", "kid": "k1"}
        self.signing_key = KEY
        self.userinfo: dict[str, Any] = {"sub": "u-1", "email": "ann@example.com",
                                         "groups": ["staff"], "preferred_username": "ann"}
        self.token_status = 200
        self.token_error = "invalid_grant"
        self.down = False

    def send(self, request, **kwargs):  # noqa: ANN001 - requests' adapter signature
        path = urlsplit(request.url).path
        self.calls[path] = self.calls.get(path, 0) + 1
        if self.down:
            raise requests.ConnectionError("connection refused")
        if path == "/.well-known/openid-configuration":
            return self.reply(request, 200, {
                "issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/auth",
                "token_endpoint": f"{ISSUER}/token", "userinfo_endpoint": f"{ISSUER}/me",
                "jwks_uri": f"{ISSUER}/jwks", "id_token_signing_alg_values_supported": ["RS256"]})
        if path == "/jwks":
            return self.reply(request, 200, {"keys": [KEY.as_dict(private=False)]})
        if path == "/token":
            if self.token_status != 200:
                return self.reply(request, self.token_status, {"error": self.token_error})
            now = int(time.time())
            claims = {"iss": ISSUER, "sub": "u-1", "aud": "gw", "iat": now, "exp": now + 300,
                      "nonce": self.nonce, "sid": "idp-sid", **self.claims}
            claims = {k: v for k, v in claims.items() if v is not None}
            token = jwt.encode(self.header, claims, self.signing_key,
                               algorithms=["RS256", "none"] if self.header["alg"] == "none"
                               else None)
            return self.reply(request, 200, {"access_token": "at", "token_type": "Bearer",
                                             "expires_in": 300, "id_token": token})
        if path == "/me":
            return self.reply(request, 200, self.userinfo)
        return self.reply(request, 404, {})

    @staticmethod
    def reply(request, status: int, body: dict[str, Any]) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def idp(monkeypatch) -> FakeIdp:
    fake = FakeIdp()
    real = client_module.oauth_session

    def with_fake(provider, redirect_uri):
        session = real(provider, redirect_uri)
        session.mount(ISSUER, fake)
        return session

    monkeypatch.setattr(client_module, "oauth_session", with_fake)
    return fake


@pytest.fixture
def gateway(tmp_path: Path, idp: FakeIdp):
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": ISSUER, "client_id": "gw", "client_secret": "x",
                       "authoritative": ["username"],
                       "auth_params": {"acr_values": "urn:mfa", "ui_locales": "de"}}],
        "apps": [{"id": "app", "hosts": ["app.example.com"]}],
    }))
    runtime = Runtime.build(config)
    runtime.providers.get("idp").http.mount(ISSUER, idp)
    from werkzeug.test import Client
    return Client(Gateway(config, runtime)), runtime


def start(client, idp: FakeIdp) -> str:
    response = client.get("/sso/login?rd=/after", base_url="http://app.example.com")
    assert response.status_code == 302, response.get_data(as_text=True)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    idp.nonce = query["nonce"][0]
    return query["state"][0]


def finish(client, state: str):
    return client.get(f"/sso/callback?code=c&state={state}", base_url="http://app.example.com")


def test_good_sign_in_creates_one_session_and_sends_extra_params(gateway, idp):
    client, runtime = gateway
    login = client.get("/sso/login?rd=/after", base_url="http://app.example.com")
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    assert query["acr_values"] == ["urn:mfa"] and query["ui_locales"] == ["de"]
    idp.nonce = query["nonce"][0]
    response = finish(client, query["state"][0])
    assert response.status_code == 302 and response.headers["Location"] == "/after"
    cookie = response.headers["Set-Cookie"]
    assert "ssomw_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    [record] = runtime.store.all_sessions()
    assert (record.user, record.sid, record.data["groups"]) == ("ann", "idp-sid", ["staff"])


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda idp: setattr(idp, "signing_key", ATTACKER), id="bad-signature"),
    pytest.param(lambda idp: idp.claims.update(nonce="other"), id="nonce-mismatch"),
    pytest.param(lambda idp: idp.claims.update(iss="https://evil.example.com"), id="wrong-iss"),
    pytest.param(lambda idp: idp.claims.update(aud="someone-else"), id="wrong-aud"),
    pytest.param(lambda idp: idp.claims.update(exp=int(time.time()) - 3600), id="expired"),
    pytest.param(lambda idp: idp.claims.update(sub=None), id="no-sub"),
    pytest.param(lambda idp: setattr(idp, "header", {"alg": "none"}), id="alg-none"),
])
def test_rejected_id_token_makes_no_session_and_skips_userinfo(gateway, idp, mutate):
    client, runtime = gateway
    state = start(client, idp)
    mutate(idp)
    response = finish(client, state)
    assert response.status_code == 502
    page = response.get_data(as_text=True)
    assert "INVALID_RESPONSE" in page and "Traceback" not in page
    assert idp.calls.get("/token") == 1 and "/me" not in idp.calls
    assert runtime.store.all_sessions() == []
    assert "ssomw_session=" not in response.headers.get("Set-Cookie", "")


def test_userinfo_for_another_subject_makes_no_session(gateway, idp):
    client, runtime = gateway
    state = start(client, idp)
    idp.userinfo["sub"] = "someone-else"
    response = finish(client, state)
    assert response.status_code == 502 and runtime.store.all_sessions() == []


def test_token_endpoint_refusal_is_an_error_page(gateway, idp):
    client, runtime = gateway
    state = start(client, idp)
    idp.token_status = 400
    response = finish(client, state)
    assert response.status_code == 502 and "/me" not in idp.calls
    assert runtime.store.all_sessions() == []


@pytest.mark.parametrize(("error", "lang", "says"), [
    pytest.param("invalid_client", "en", "The sign-in gateway is not set up correctly",
                 id="invalid_client-en"),
    pytest.param("invalid_client", "de", "nicht richtig eingerichtet", id="invalid_client-de"),
    pytest.param("unauthorized_client", "en", "not set up correctly", id="unauthorized_client"),
])
def test_refused_client_credentials_say_the_gateway_is_misconfigured(gateway, idp, error,
                                                                      lang, says):
    """Issue 16.4: a wrong or missing client secret is no sign of tampering."""
    client, runtime = gateway
    state = start(client, idp)
    idp.token_status, idp.token_error = 401, error
    response = client.get(f"/sso/callback?code=c&state={state}",
                          base_url="http://app.example.com",
                          headers={"Accept-Language": lang})
    page = response.get_data(as_text=True)
    assert response.status_code == 502
    assert "PROVIDER_MISCONFIGURED" in page and says in page
    assert "verified" not in page and "überprüft" not in page
    assert runtime.store.all_sessions() == [] and "/me" not in idp.calls


@pytest.mark.parametrize("state", ["", "forged", "x" * 500])
def test_unknown_state_never_reaches_the_token_endpoint(gateway, idp, state):
    client, runtime = gateway
    start(client, idp)
    response = finish(client, state)
    assert response.status_code == 400 and "SESSION_EXPIRED" in response.get_data(as_text=True)
    assert "/token" not in idp.calls


def test_state_is_single_use(gateway, idp):
    client, runtime = gateway
    state = start(client, idp)
    assert finish(client, state).status_code == 302
    assert finish(client, state).status_code == 400
    assert idp.calls["/token"] == 1


def test_provider_down_shows_the_unavailable_page(gateway, idp):
    client, _ = gateway
    idp.down = True
    response = client.get("/sso/login?rd=/", base_url="http://app.example.com")
    assert response.status_code == 503
    assert "PROVIDER_UNAVAILABLE" in response.get_data(as_text=True)


def test_pages_carry_strict_security_headers(gateway, idp):
    client, _ = gateway
    response = client.get("/sso/logged-out", base_url="http://app.example.com")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src none
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Request-Id"]


def test_logout_redirect_option_replaces_the_logout_page(tmp_path: Path, idp: FakeIdp):
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": ISSUER, "client_id": "gw", "client_secret": "s"}],
        "apps": [{"id": "app", "hosts": ["app.example.com"]}],
        "templates": {"logout_redirect": "https://app.example.com/goodbye"},
    }))
    from werkzeug.test import Client
    client = Client(Gateway(config))
    response = client.get("/sso/logged-out", base_url="http://app.example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://app.example.com/goodbye"


def test_disabled_emergency_path_is_a_plain_404(gateway):
    client, _ = gateway
    response = client.get("/sso/break-glass-7f3a91c2e8d4b6a0", base_url="http://app.example.com")
    assert response.status_code == 404
