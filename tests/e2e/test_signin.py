"""Sign-in through the real chain: nginx → gateway → oidc-provider, identity headers at the app."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.signin import sign_in

from .conftest import signed_in
from .stack import Stack

BROWSER_NAV = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}


def lower_headers(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.json()["headers"].items()}


def test_signed_in_user_reaches_app_with_identity_headers(stack: Stack, http: requests.Session):
    response = sign_in(http, stack.url("app-a", "/some/page?x=1"), "alice", "test-password")
    assert response.status_code == 200, response.trail
    echo = response.json()
    assert (echo["app"], echo["path"]) == ("app-a", "/some/page?x=1")
    headers = lower_headers(response)
    assert headers["x-auth-request-user"] == "alice"
    assert headers["x-auth-request-email"] == "alice@example.com"
    assert headers["x-auth-request-name"] == "Alice Example"
    assert headers["x-auth-request-groups"] == "app-b-users,staff"
    assert headers["x-auth-request-provider"] == "idp"


def test_authorization_request_carries_state_nonce_and_pkce(stack: Stack, http: requests.Session):
    first = http.get(stack.url("app-a", "/x"), headers=BROWSER_NAV, allow_redirects=False)
    assert first.status_code == 302
    login = http.get(first.headers["Location"], allow_redirects=False)
    assert login.status_code == 302
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    assert query["response_type"] == ["code"]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["redirect_uri"] == [stack.url("app-a", "/sso/callback")]


def test_one_sign_in_covers_both_apps(stack: Stack):
    session = signed_in(stack, "alice", "app-a")
    response = session.get(stack.url("app-b", "/b"), allow_redirects=False)
    assert response.status_code == 200
    assert lower_headers(response)["x-auth-request-user"] == "alice"


def test_forged_identity_headers_never_reach_the_app(stack: Stack):
    forged = {"X-Auth-Request-User": "admin", "X-Auth-Request-Groups": "admins",
              "X-Auth-Request-Email": "admin@example.com"}
    anonymous = requests.get(stack.url("app-a", "/public/info"), headers=forged)
    assert anonymous.status_code == 200
    assert not {"x-auth-request-user", "x-auth-request-groups",
                "x-auth-request-email"} & set(lower_headers(anonymous))
    session = signed_in(stack, "bob")
    signed = session.get(stack.url("app-a", "/page"), headers=forged)
    headers = lower_headers(signed)
    assert headers["x-auth-request-user"] == "bob"
    assert headers["x-auth-request-groups"] == "staff"
    assert headers["x-auth-request-email"] == "bob@example.com"


def test_bypass_rule_serves_anonymous_users_without_identity(stack: Stack):
    response = requests.get(stack.url("app-a", "/public/status"), allow_redirects=False)
    assert response.status_code == 200
    assert "x-auth-request-user" not in lower_headers(response)


@pytest.mark.parametrize("headers, location", [
    pytest.param(BROWSER_NAV, True, id="navigation-redirects-to-sign-in"),
    pytest.param({"Accept": "application/json"}, False, id="api-call-gets-bare-401"),
    pytest.param({"X-Requested-With": "XMLHttpRequest", "Accept": "*/*"}, False, id="xhr"),
    pytest.param({"Accept": "*/*", "Sec-Fetch-Mode": "cors"}, False, id="fetch"),
])
def test_anonymous_request(stack: Stack, headers: dict[str, str], location: bool):
    response = requests.get(stack.url("app-a", "/private?q=1"), headers=headers,
                            allow_redirects=False)
    if location:
        assert response.status_code == 302
        target = urlsplit(response.headers["Location"])
        assert (target.hostname, target.path) == (stack.host("app-a"), "/sso/login")
        assert parse_qs(target.query)["rd"] == [stack.url("app-a", "/private?q=1")]
    else:
        assert response.status_code == 401
        assert "Location" not in response.headers


@pytest.mark.parametrize("mangle", [
    pytest.param(lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"), id="bad-signature"),
    pytest.param(lambda v: "x" + v, id="changed-session-id"),
    pytest.param(lambda v: "", id="empty"),
    pytest.param(lambda v: v + "x" * 600, id="oversized"),
    pytest.param(lambda v: v.split(".")[0], id="unsigned-id"),
])
def test_tampered_cookie_is_refused(stack: Stack, mangle):
    session = signed_in(stack)
    value = session.cookies.get("ssomw_session")
    response = requests.get(stack.url("app-a", "/page"), allow_redirects=False,
                            headers={"Cookie": f"ssomw_session={mangle(value)}",
                                     "Accept": "application/json"})
    assert response.status_code == 401


def test_user_outside_allowed_groups_gets_the_403_page(stack: Stack):
    session = signed_in(stack, "bob", "app-a")
    response = session.get(stack.url("app-b", "/"), allow_redirects=False)
    assert response.status_code == 403
    assert "USER_NOT_ALLOWED" in response.text and "not allowed" in response.text
    assert "x-auth-request-user" not in response.text.lower()


def test_unknown_host_is_refused(stack: Stack):
    session = signed_in(stack)
    cookie = session.cookies.get("ssomw_session")
    response = requests.get(f"http://127.0.0.1:{stack.port}/", allow_redirects=False,
                            headers={"Host": "unknown.ssomw.localhost",
                                     "Cookie": f"ssomw_session={cookie}"})
    assert response.status_code in (403, 404)  # 404: nginx has no server for it at all
    assert "alice" not in response.text
    assert stack.gateway is not None
    direct = requests.get(f"{stack.gateway.url}/sso/auth", headers={
        "X-Original-URL": "http://unknown.ssomw.localhost/", "Cookie": f"ssomw_session={cookie}"})
    assert direct.status_code == 403


def test_auth_endpoint_is_not_reachable_from_outside(stack: Stack):
    session = signed_in(stack)
    response = session.get(stack.url("app-a", "/sso/auth"),
                           headers={"X-Original-URL": stack.url("app-a", "/")})
    assert response.status_code == 404
    assert "x-auth-request-user" not in {k.lower() for k in response.headers}


@pytest.mark.parametrize("rd", [
    pytest.param("https://evil.example.net/", id="foreign-host"),
    pytest.param("//evil.example.net/", id="protocol-relative"),
    pytest.param("javascript:alert(1)", id="javascript"),
])
def test_sign_in_never_returns_to_a_foreign_site(stack: Stack, http: requests.Session, rd: str):
    response = http.get(stack.url("app-a", "/sso/login"), params={"rd": rd},
                        allow_redirects=False)
    assert response.status_code == 302
    final = sign_in(http, response.headers["Location"], "alice", "test-password")
    assert urlsplit(final.url).hostname == stack.host("app-a")
    assert urlsplit(final.url).path == "/"


@pytest.mark.parametrize("path", [
    pytest.param("/public/x", id="rule-path"),
    pytest.param("/public/../public/y", id="dot-segments"),
    pytest.param("/public/x;jsessionid=1", id="matrix-param"),
    pytest.param("/public//x", id="double-slash"),
])
def test_decision_cache_never_crosses_a_path_rule(stack: Stack, path: str):
    """A cached "allow" for one URL must not answer for a URL a rule treats differently."""
    session = signed_in(stack)
    for _ in range(3):  # warm the cache for the app-wide key
        assert "x-auth-request-user" in lower_headers(session.get(stack.url("app-a", "/page")))
    response = session.get(stack.url("app-a", path))
    assert response.status_code == 200
    assert "x-auth-request-user" not in lower_headers(response), "bypass must not see identity"
