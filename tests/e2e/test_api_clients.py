"""Scripts, CI jobs and SPAs through the real chain (contract §7): nginx → gateway → provider.

app-a is "Jira": its REST API takes the provider's access tokens (JWT, or opaque by
introspection), Basic and personal access tokens pass through to the app, CORS preflights pass.
app-b takes only JWTs and has no passthrough. Tokens come from the real test provider
(client credentials with resource indicators) or are signed with its key for the cases a flow
cannot produce (a user's token, expired, wrong audience).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from joserfc.jwk import RSAKey

from tests.support.oidc_provider import OidcProvider

from .conftest import signed_in, start_stack
from .stack import Stack

BOT, BOT_SECRET = "ci-bot", "ci-bot-secret-0123456789"
JIRA, OPAQUE = "urn:test:jira", "urn:test:opaque"
RESOURCES = {JIRA: {"audience": "jira-api", "scope": "jira read"},
             OPAQUE: {"audience": "jira-api", "scope": "jira", "format": "opaque"}}
JSON = {"Accept": "application/json"}


class ApiStack(Stack):
    def start_providers(self) -> None:
        bot = {"client_id": BOT, "client_secret": BOT_SECRET, "redirect_uris": [],
               "response_types": [], "grant_types": ["client_credentials"]}
        self.provider = OidcProvider(self.workdir / "idp", users=self.users(),
                                     clients=[self.client(), bot], resources=RESOURCES).start()
        self.extra_providers = []

    @staticmethod
    def users() -> dict[str, dict[str, Any]]:
        from .stack import USERS
        return USERS

    def apps_config(self) -> list[dict[str, Any]]:
        bearer = {"providers": ["idp"], "audiences": ["jira-api"], "scopes": ["jira"]}
        return [
            {"id": "app-a", "hosts": [self.host("app-a")], "upstream": self.apps["app-a"].url,
             "api": {"paths": ["^/rest/"], "bearer": {**bearer, "introspection": True},
                     "passthrough": ["basic", "token"], "cors_preflight": True}},
            {"id": "app-b", "hosts": [self.host("app-b")], "upstream": self.apps["app-b"].url,
             "allowed_groups": ["app-b-users"],
             "api": {"paths": ["^/api/"], "bearer": bearer}},
        ]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    s = start_stack(tmp_path_factory, "api-clients", ApiStack)
    yield s
    s.stop()


def user_token(stack: Stack, user: str = "alice", **claims: Any) -> str:
    assert stack.provider is not None
    now = int(time.time())
    body = {"iss": stack.provider.issuer, "sub": user, "preferred_username": user,
            "aud": "jira-api", "client_id": "cli", "scope": "jira", "iat": now,
            "exp": now + 300, "groups": ["staff", "app-b-users"], **claims}
    return stack.provider.sign({k: v for k, v in body.items() if v is not None})


def call(stack: Stack, app: str, path: str, authorization: str | None = None,
         headers: dict[str, str] | None = None, method: str = "GET") -> requests.Response:
    sent = {**JSON, **(headers or {})}
    if authorization:
        sent["Authorization"] = authorization
    return requests.request(method, stack.url(app, path), headers=sent, allow_redirects=False,
                            timeout=10)


def seen(response: requests.Response) -> dict[str, str]:
    """The headers the upstream app received (lower-case names)."""
    return {k.lower(): v for k, v in response.json()["headers"].items()}


def test_client_credentials_token_from_the_provider(stack: ApiStack):
    token = stack.provider.client_credentials_token(BOT, BOT_SECRET, JIRA, "jira")
    response = call(stack, "app-a", "/rest/api/2/issue/1", f"Bearer {token}")
    assert response.status_code == 200
    headers = seen(response)
    assert headers["x-auth-request-user"] == "client:ci-bot"
    assert headers["x-auth-request-provider"] == "idp"
    assert headers["authorization"] == f"Bearer {token}"


def test_a_users_token_goes_through_the_groups_pipeline(stack: ApiStack):
    response = call(stack, "app-b", "/api/x", f"Bearer {user_token(stack)}")
    assert response.status_code == 200
    headers = seen(response)
    assert headers["x-auth-request-user"] == "alice"
    assert headers["x-auth-request-groups"] == "app-b-users,staff"
    assert headers["x-auth-request-auth-method"] == "bearer"
    outsider = call(stack, "app-b", "/api/x", f"Bearer {user_token(stack, groups=['staff'])}")
    assert outsider.status_code == 403


@pytest.mark.parametrize("claims, signer, status, error", [
    pytest.param({"exp": int(time.time()) - 600}, None, 401, "invalid_token", id="expired"),
    pytest.param({"aud": "other-api"}, None, 401, "invalid_token", id="wrong-audience"),
    pytest.param({"scope": "read"}, None, 403, "insufficient_scope", id="wrong-scope"),
    pytest.param({}, "attacker", 401, "invalid_token", id="forged"),
])
def test_bad_tokens_are_refused_per_rfc6750(stack: ApiStack, claims: dict, signer: str | None,
                                            status: int, error: str):
    if signer == "attacker":
        key = RSAKey.generate_key(2048, {"kid": next(
            k.kid for k in stack.provider.private_jwks.keys if k.key_type == "RSA")})
        from joserfc import jwt
        now = int(time.time())
        token = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"},
                           {"iss": stack.provider.issuer, "sub": "alice", "aud": "jira-api",
                            "scope": "jira", "iat": now, "exp": now + 300}, key)
    else:
        token = user_token(stack, **claims)
    response = call(stack, "app-b", "/api/x", f"Bearer {token}")
    assert response.status_code == status
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="app-b", error="{error}"'
    assert "Location" not in response.headers


def test_alg_none_is_refused(stack: ApiStack):
    import base64
    import json
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    now = int(time.time())
    token = part({"alg": "none", "typ": "at+jwt"}) + "." + part(
        {"iss": stack.provider.issuer, "sub": "alice", "aud": "jira-api", "scope": "jira",
         "exp": now + 300}) + "."
    response = call(stack, "app-b", "/api/x", f"Bearer {token}")
    assert response.status_code == 401 and 'error="invalid_token"' in \
        response.headers["WWW-Authenticate"]


def test_opaque_token_by_introspection(stack: ApiStack):
    token = stack.provider.client_credentials_token(BOT, BOT_SECRET, OPAQUE, "jira")
    assert token.count(".") == 0
    response = call(stack, "app-a", "/rest/x", f"Bearer {token}")
    assert response.status_code == 200
    assert seen(response)["x-auth-request-user"] == "client:ci-bot"


@pytest.mark.parametrize("authorization", [
    pytest.param("Basic YWxpY2U6c2VjcmV0", id="basic"),
    pytest.param("Bearer jira-personal-access-token-0123456789", id="personal-access-token"),
])
def test_the_apps_own_credentials_pass_untouched_without_identity(stack: ApiStack,
                                                                  authorization: str):
    forged = {"X-Auth-Request-User": "admin", "Remote-User": "admin"}
    response = call(stack, "app-a", "/rest/api/2/myself", authorization, headers=forged)
    assert response.status_code == 200
    headers = seen(response)
    assert headers["authorization"] == authorization
    assert not {"x-auth-request-user", "remote-user"} & {k for k, v in headers.items() if v}


def test_no_passthrough_means_an_unknown_token_is_refused(stack: ApiStack):
    response = call(stack, "app-b", "/api/x", "Bearer jira-personal-access-token")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_no_credentials_on_an_api_path_is_a_bare_401_with_a_challenge(stack: ApiStack):
    browserish = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
    response = call(stack, "app-a", "/rest/api/2/issue/1", headers=browserish)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="app-a"'
    assert "Location" not in response.headers
    page = call(stack, "app-a", "/browse/X-1", headers=browserish)
    assert page.status_code == 302  # outside the API paths a browser still signs in


def test_cors_preflight_passes_without_identity(stack: ApiStack):
    response = call(stack, "app-a", "/rest/api/2/issue", method="OPTIONS",
                    headers={"Origin": "https://spa.example.com",
                             "Access-Control-Request-Method": "POST"})
    assert response.status_code == 200
    assert not seen(response).get("x-auth-request-user")


def test_a_session_cookie_works_on_api_paths(stack: ApiStack):
    alice = signed_in(stack, "alice")
    response = alice.get(stack.url("app-a", "/rest/api/2/myself"), headers=JSON)
    assert response.status_code == 200
    assert seen(response)["x-auth-request-user"] == "alice"


def test_the_decision_cache_never_serves_one_credential_to_another(stack: ApiStack):
    path = "/api/cache-check"
    good = call(stack, "app-b", path, f"Bearer {user_token(stack)}")
    assert good.status_code == 200
    bad = call(stack, "app-b", path, f"Bearer {user_token(stack, aud='nope')}")
    assert bad.status_code == 401
    alice = signed_in(stack, "alice", "app-b")
    assert alice.get(stack.url("app-b", path), headers=JSON).status_code == 200  # cached allow
    forged = alice.get(stack.url("app-b", path),
                       headers={**JSON, "Authorization": "Bearer forged-token"})
    assert forged.status_code == 401
