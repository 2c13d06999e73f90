"""apps[].api on the access decision, in-process (contract §7): bearer JWTs, introspection,
passthrough, CORS preflight and the RFC 6750 answers. A fake provider serves discovery, JWKS
and introspection through a requests adapter; tokens are minted with its key."""

from __future__ import annotations

import base64
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

from ssomw.config import from_text
from ssomw.gateway.access import Access
from ssomw.gateway.runtime import Runtime
from ssomw.oidc import introspection

ISSUER = "https://idp.example.com"
KEY = RSAKey.generate_key(2048, {"kid": "k1", "use": "sig"})
ATTACKER = RSAKey.generate_key(2048, {"kid": "k1", "use": "sig"})
OPAQUE_GOOD, OPAQUE_PAT = "opaque-good-token-0123456789", "jira-pat-0123456789"


class FakeIdp(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.introspections = 0

    def send(self, request, **kwargs):  # noqa: ANN001 - requests' adapter signature
        path = urlsplit(request.url).path
        if path == "/.well-known/openid-configuration":
            return reply(request, {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/a",
                                   "token_endpoint": f"{ISSUER}/t", "jwks_uri": f"{ISSUER}/jwks",
                                   "introspection_endpoint": f"{ISSUER}/introspect",
                                   "id_token_signing_alg_values_supported": ["RS256"]})
        if path == "/jwks":
            return reply(request, {"keys": [KEY.as_dict(private=False)]})
        if path == "/introspect":
            self.introspections += 1
            if self.down:
                raise requests.ConnectionError("down")
            assert request.headers["Authorization"].startswith("Basic ")
            token = parse_qs(request.body)["token"][0]
            if token == OPAQUE_GOOD:
                return reply(request, {"active": True, "sub": "u-7", "scope": "jira",
                                       "preferred_username": "olga", "aud": "jira-api",
                                       "exp": time.time() + 600})
            return reply(request, {"active": False})
        return reply(request, {}, 404)

    def close(self) -> None:
        pass


def reply(request, body: dict[str, Any], status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.url, response.request = request.url, request
    return response


def token(key: RSAKey = KEY, header: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "u-1", "preferred_username": "ann", "aud": "jira-api",
            "client_id": "cli", "scope": "jira", "iat": now, "exp": now + 300,
            "groups": ["devs"], **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": "k1", "typ": "at+jwt", **(header or {})}, body, key)


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> FakeIdp:
    fake = FakeIdp()
    real = introspection.oauth_session

    def with_fake(provider, redirect_uri):  # noqa: ANN001, ANN202
        session = real(provider, redirect_uri)
        session.mount(ISSUER, fake)
        return session

    monkeypatch.setattr(introspection, "oauth_session", with_fake)
    return fake


@pytest.fixture
def access(tmp_path: Path, idp: FakeIdp) -> Access:
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": ISSUER, "client_id": "gw", "client_secret": "s",
                       "authoritative": ["username"]}],
        "apps": [
            {"id": "jira", "hosts": ["jira.example.com"], "allowed_groups": ["devs", "ops"],
             "api": {"paths": ["^/rest/"], "bearer": {"providers": ["idp"],
                                                      "audiences": ["jira-api"],
                                                      "scopes": ["jira"],
                                                      "introspection": True},
                     "passthrough": ["basic", "token"], "cors_preflight": True}},
            {"id": "strict", "hosts": ["strict.example.com"],
             "api": {"paths": ["^/api/"], "bearer": {"providers": ["idp"],
                                                     "audiences": ["jira-api"]}}},
        ],
    }))
    runtime = Runtime.build(config)
    runtime.providers.get("idp").http.mount(ISSUER, idp)
    return Access(runtime)


def ask(access: Access, url: str, authorization: str | None = None, method: str = "GET",
        **extra: str) -> tuple[int, dict[str, str]]:
    env = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_ORIGINAL_URL": url,
           "HTTP_X_ORIGINAL_METHOD": method, "HTTP_ACCEPT": "application/json", **extra}
    if authorization:
        env["HTTP_AUTHORIZATION"] = authorization
    status, headers = access.decide(env)
    return int(status[:3]), dict(headers)


JIRA = "https://jira.example.com/rest/api/2/issue/1"


@pytest.mark.parametrize("make, status, error", [
    pytest.param(lambda: token(), 200, None, id="valid"),
    pytest.param(lambda: token(exp=int(time.time()) - 600), 401, "invalid_token", id="expired"),
    pytest.param(lambda: token(aud="other-api"), 401, "invalid_token", id="wrong-audience"),
    pytest.param(lambda: token(scope="read"), 403, "insufficient_scope", id="wrong-scope"),
    pytest.param(lambda: token(ATTACKER), 401, "invalid_token", id="forged-signature"),
    pytest.param(lambda: ".".join([base64.urlsafe_b64encode(json.dumps(
        {"alg": "none"}).encode()).decode().rstrip("="), token().split(".")[1], ""]),
        401, "invalid_token", id="alg-none"),
    pytest.param(lambda: token(groups=["guests"]), 403, None, id="not-in-allowed-groups"),
])
def test_bearer_jwt(access: Access, make, status: int, error: str | None) -> None:
    got, headers = ask(access, JIRA, f"Bearer {make()}")
    assert got == status
    assert "Location" not in headers
    if status == 200:
        assert headers["X-Auth-Request-User"] == "ann"
        assert headers["X-Auth-Request-Groups"] == "devs"
        assert headers["X-Auth-Request-Provider"] == "idp"
        assert "X-Accel-Expires" not in headers  # never cached under a cookie key
    if error:
        assert headers["WWW-Authenticate"] == f'Bearer realm="jira", error="{error}"'


def test_client_credentials_token_is_the_client(access: Access) -> None:
    got, headers = ask(access, "https://strict.example.com/api/x",
                       f"Bearer {token(sub='cli', preferred_username=None, groups=None)}")
    assert got == 200 and headers["X-Auth-Request-User"] == "client:cli"


def test_opaque_tokens_by_introspection_cached(access: Access, idp: FakeIdp) -> None:
    got, headers = ask(access, JIRA, f"Bearer {OPAQUE_GOOD}")
    assert got == 403  # olga has no group that jira allows: the identity went through policy
    assert idp.introspections == 1
    ask(access, JIRA, f"Bearer {OPAQUE_GOOD}")
    assert idp.introspections == 1  # the answer is kept (at most 60 s)


def test_introspection_down_is_503_never_allow(access: Access, idp: FakeIdp) -> None:
    idp.down = True
    assert ask(access, JIRA, "Bearer another-opaque-token")[0] == 503


def test_unknown_token_passes_through_without_identity(access: Access) -> None:
    got, headers = ask(access, JIRA, f"Bearer {OPAQUE_PAT}")
    assert got == 200 and "X-Auth-Request-User" not in headers


def test_basic_passes_through_without_identity(access: Access) -> None:
    got, headers = ask(access, JIRA, "Basic YWxpY2U6cHc=")
    assert got == 200 and "X-Auth-Request-User" not in headers


def test_without_passthrough_an_unknown_token_is_refused(access: Access) -> None:
    got, headers = ask(access, "https://strict.example.com/api/x", "Bearer opaque")
    assert got == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]


@pytest.mark.parametrize("url, extra, location", [
    pytest.param(JIRA, {}, False, id="api-path-json"),
    pytest.param(JIRA, {"HTTP_ACCEPT": "text/html", "HTTP_SEC_FETCH_MODE": "navigate"}, False,
                 id="api-path-even-for-a-navigation"),
    pytest.param("https://jira.example.com/browse/X-1",
                 {"HTTP_ACCEPT": "text/html", "HTTP_SEC_FETCH_MODE": "navigate"}, True,
                 id="browser-path-navigation-redirects"),
])
def test_no_credentials(access: Access, url: str, extra: dict[str, str], location: bool) -> None:
    got, headers = ask(access, url, **extra)
    assert got == 401
    assert ("Location" in headers) is location
    if "/rest/" in url:
        assert headers["WWW-Authenticate"] == 'Bearer realm="jira"'


def test_cors_preflight_passes_without_identity(access: Access) -> None:
    got, headers = ask(access, JIRA, method="OPTIONS", HTTP_ORIGIN="https://spa.example.com",
                       HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert got == 200 and "X-Auth-Request-User" not in headers
    assert ask(access, JIRA, method="OPTIONS")[0] == 401  # not a preflight


def test_session_cookie_works_on_api_paths(access: Access) -> None:
    _, cookie = access.runtime.sessions.create(user="zoe", provider="idp", sub="z", sid=None,
                                               data={"groups": ["ops"]})
    got, headers = ask(access, JIRA, HTTP_COOKIE=f"ssomw_session={cookie}")
    assert got == 200 and headers["X-Auth-Request-User"] == "zoe"
