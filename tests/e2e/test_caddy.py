"""Caddy in front (contract §8): Chromium → Caddy (the Caddyfile `ssomw proxy caddy` prints)
→ gateway ``/sso/forward-auth`` → oidc-provider, and the apps behind Caddy."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
import requests

from tests.support.browser import browser_context, chromium_browser, provider_login, screenshot
from tests.support.signin import sign_in

from .caddy_stack import CaddyStack
from .conftest import API, start_stack

FORGED = {"X-Auth-Request-User": "mallory", "X-Auth-Request-Groups": "admins",
          "Remote-User": "mallory", "X-Forwarded-User": "mallory"}


@pytest.fixture(scope="module")
def caddy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaddyStack]:
    stack = start_stack(tmp_path_factory, "caddy", CaddyStack)
    yield stack
    stack.stop()


def echo_headers(text: str) -> dict[str, str]:
    return {k.lower(): v for k, v in json.loads(text)["headers"].items()}


@pytest.mark.browser
def test_browser_sign_in_through_caddy_with_forged_headers(caddy_stack: CaddyStack):
    """A navigation is sent to sign in (302), comes back with the identity headers, and what
    the browser forged never reaches the app."""
    with chromium_browser() as browser, browser_context(browser) as context:
        context.set_extra_http_headers(FORGED)
        page = context.new_page()
        landed = page.goto(caddy_stack.url("app-a", "/dashboard?tab=1"))
        assert landed is not None
        assert page.url.startswith(caddy_stack.provider.issuer), page.url
        request = landed.request
        while request.redirected_from is not None:
            request = request.redirected_from
        answer = request.response()  # Caddy handed the gateway's 302 to the browser
        assert answer is not None and answer.status == 302
        assert "/sso/login?rd=" in answer.headers["location"]
        provider_login(page, "alice")
        assert page.url == caddy_stack.url("app-a", "/dashboard?tab=1")
        seen = echo_headers(page.inner_text("body"))
        screenshot(page, "caddy-signed-in")
        assert seen["x-auth-request-user"] == "alice"
        assert seen["x-auth-request-groups"] == "app-b-users,staff"
        assert seen["x-auth-request-email"] == "alice@example.com"
        for name in ("remote-user", "x-forwarded-user"):
            assert seen.get(name, "") == "", name  # emptied, never the browser's value
        assert not any("{http." in value for value in seen.values()), seen

        response = page.goto(caddy_stack.url("app-b", "/"))  # the same session
        assert response is not None and response.status == 200
        assert echo_headers(page.inner_text("body"))["x-auth-request-user"] == "alice"


@pytest.mark.browser
def test_browser_sees_the_403_page_through_caddy(caddy_stack: CaddyStack):
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(caddy_stack.url("app-a", "/"))
        provider_login(page, "bob")
        response = page.goto(caddy_stack.url("app-b", "/"))
        assert response is not None and response.status == 403
        screenshot(page, "caddy-403")
        assert "bob" in page.inner_text("body")  # the gateway's page, worded for bob
        assert page.locator("form[action$='/sso/logout']").count() == 1


def test_navigation_is_redirected_to_sign_in(caddy_stack: CaddyStack, http: requests.Session):
    response = http.get(caddy_stack.url("app-a", "/page?x=1"), allow_redirects=False,
                        headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == caddy_stack.url(
        "app-a", "/sso/login?rd=http%3A%2F%2Fapp-a.ssomw.localhost%3A"
        f"{caddy_stack.port}%2Fpage%3Fx%3D1")


def test_xhr_without_session_gets_401(caddy_stack: CaddyStack, http: requests.Session):
    for headers in (API, {"X-Requested-With": "XMLHttpRequest", "Accept": "*/*"}):
        response = http.get(caddy_stack.url("app-a", "/api/x"), headers=headers,
                            allow_redirects=False)
        assert response.status_code == 401, headers
        assert "Location" not in response.headers


def test_api_path_gets_the_bearer_challenge(caddy_stack: CaddyStack, http: requests.Session):
    response = http.get(caddy_stack.url("app-a", "/rest/api/2/issue"), allow_redirects=False,
                        headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="app-a"'


def test_bypass_path_gets_no_identity_and_no_forgery(caddy_stack: CaddyStack,
                                                     http: requests.Session):
    response = http.get(caddy_stack.url("app-a", "/public/x"), headers=FORGED)
    assert response.status_code == 200
    seen = echo_headers(response.text)
    for name in FORGED:
        assert seen.get(name.lower(), "") == "", name
    assert not any("{http." in value for value in seen.values()), seen


def test_signed_in_client_cannot_override_its_identity(caddy_stack: CaddyStack):
    with requests.Session() as session:
        assert sign_in(session, caddy_stack.url("app-a", "/"), "bob",
                       "test-password").status_code == 200
        seen = echo_headers(session.get(caddy_stack.url("app-a", "/x"), headers=FORGED).text)
    assert seen["x-auth-request-user"] == "bob"
    assert seen["x-auth-request-groups"] == "staff"
    assert seen.get("remote-user", "") == ""


def test_a_client_sending_an_unknown_identity_header_is_refused(caddy_stack: CaddyStack,
                                                                http: requests.Session):
    """As with nginx: an X-Auth-Request-* header no configuration overwrites is refused."""
    response = http.get(caddy_stack.url("app-a", "/public/x"),
                        headers={"X-Auth-Request-Access-Level": "root"})
    assert response.status_code == 403


def test_proxy_endpoints_are_not_for_browsers(caddy_stack: CaddyStack, http: requests.Session):
    for path in ("/sso/forward-auth", "/sso/auth", "/sso/ext-authz/x"):
        response = http.get(caddy_stack.url("app-a", path), headers={
            "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/x"})
        assert response.status_code == 404, path


def test_untrusted_peer_gets_400_from_the_gateway(caddy_stack: CaddyStack):
    """The gateway trusts 127.0.0.1/32 only; a peer at 127.0.0.2 sending X-Forwarded-* is not
    believed."""
    assert caddy_stack.gateway is not None
    conn = http.client.HTTPConnection("127.0.0.1", caddy_stack.gateway.port, timeout=10,
                                      source_address=("127.0.0.2", 0))
    conn.request("GET", "/sso/forward-auth", headers={
        "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": caddy_stack.host("app-a"), "X-Forwarded-Uri": "/public/x"})
    response = conn.getresponse()
    assert response.status == 400
    assert b"trusted_proxies" in response.read()
    conn.close()
