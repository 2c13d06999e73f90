"""Traefik and Envoy have no package here: their requests to the gateway, shaped exactly as
their documentation describes, sent to the real gateway (gunicorn) of the real chain, with a
session made by a real sign-in through nginx.

* Traefik ``forwardAuth``: ``GET <address>`` with the client's headers plus
  ``X-Forwarded-Method``, ``-Proto``, ``-Host``, ``-Uri`` and ``-For``.
* Envoy HTTP ``ext_authz``: the original method, ``path_prefix`` + the original path and
  query, the original ``Host``, ``Content-Length: 0`` and the allowed client headers.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
import requests

from .conftest import signed_in
from .stack import Stack

NAV = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}


@pytest.fixture(scope="module")
def alice(stack: Stack) -> Iterator[str]:
    with signed_in(stack, "alice") as session:
        yield "; ".join(f"{c.name}={c.value}" for c in session.cookies
                        if c.name == "ssomw_session")


def ask(stack: Stack, method: str, path: str, headers: dict[str, str],
        source: str = "127.0.0.1") -> http.client.HTTPResponse:
    """One request to the gateway itself, from ``source`` (the trusted proxy is 127.0.0.1)."""
    assert stack.gateway is not None
    conn = http.client.HTTPConnection("127.0.0.1", stack.gateway.port, timeout=10,
                                      source_address=(source, 0))
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def traefik(stack: Stack, uri: str, headers: dict[str, str], app: str = "app-a",
            method: str = "GET", source: str = "127.0.0.1") -> http.client.HTTPResponse:
    return ask(stack, "GET", "/sso/forward-auth", {
        **headers, "X-Forwarded-Method": method, "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": f"{stack.host(app)}:{stack.port}", "X-Forwarded-Uri": uri,
        "X-Forwarded-For": "203.0.113.9"}, source)


def envoy(stack: Stack, uri: str, headers: dict[str, str], app: str = "app-a",
          method: str = "GET", source: str = "127.0.0.1") -> http.client.HTTPResponse:
    return ask(stack, method, f"/sso/ext-authz{uri}", {
        **headers, "Host": f"{stack.host(app)}:{stack.port}", "Content-Length": "0",
        "X-Forwarded-Proto": "http", "X-Forwarded-For": "203.0.113.9"}, source)


@pytest.mark.parametrize("door", [traefik, envoy], ids=["traefik", "envoy"])
def test_allowed_with_identity_headers(stack, alice, door):
    response = door(stack, "/report?q=a%20b&x=1", {**NAV, "Cookie": alice})
    assert response.status == 200
    assert response.getheader("X-Auth-Request-User") == "alice"
    assert response.getheader("X-Auth-Request-Groups") == "app-b-users,staff"


@pytest.mark.parametrize("door", [traefik, envoy], ids=["traefik", "envoy"])
def test_navigation_without_session_is_sent_to_sign_in(stack, door):
    response = door(stack, "/report?q=1", NAV)
    assert response.status == 302
    location = response.getheader("Location")
    assert location.startswith(stack.url("app-a", "/sso/login?rd="))
    assert "%2Freport%3Fq%3D1" in location
    # The proxy hands this to the browser: following it starts a real sign-in.
    with requests.Session() as browser:
        page = browser.get(location, allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith(
        stack.provider.issuer)


@pytest.mark.parametrize("door", [traefik, envoy], ids=["traefik", "envoy"])
def test_xhr_and_post_without_session_get_401(stack, door):
    assert door(stack, "/api", {"X-Requested-With": "XMLHttpRequest"}).status == 401
    assert door(stack, "/form", NAV, method="POST").status == 401


@pytest.mark.parametrize("door", [traefik, envoy], ids=["traefik", "envoy"])
def test_refused_user_gets_the_403_page(stack, door):
    with signed_in(stack, "bob") as session:
        bob = f"ssomw_session={session.cookies['ssomw_session']}"
        response = door(stack, "/", {**NAV, "Cookie": bob}, app="app-b")
    assert response.status == 403
    assert response.getheader("Content-Type").startswith("text/html")
    assert b"bob" in response.body  # type: ignore[attr-defined]


@pytest.mark.parametrize("door", [traefik, envoy], ids=["traefik", "envoy"])
def test_bypass_sends_every_header_empty(stack, door):
    response = door(stack, "/public/x", {"X-Auth-Request-User": "mallory"})
    assert response.status == 200
    assert response.getheader("X-Auth-Request-User") == ""


@pytest.mark.parametrize("door", [traefik, envoy], ids=["traefik", "envoy"])
def test_untrusted_peer_gets_400(stack, alice, door):
    response = door(stack, "/report", {**NAV, "Cookie": alice}, source="127.0.0.2")
    assert response.status == 400
    assert b"server.trusted_proxies" in response.body  # type: ignore[attr-defined]
    assert response.getheader("X-Auth-Request-User") is None


def test_through_nginx_the_proxy_endpoints_are_not_for_browsers(stack, alice):
    """nginx is a trusted peer, so a browser must not reach the other proxies' endpoints
    through it (they would judge a URL of the client's choosing)."""
    with requests.Session() as browser:
        for path in ("/sso/forward-auth", "/sso/ext-authz/x", "/sso/auth"):
            response = browser.get(stack.url("app-a", path), headers={
                "Cookie": alice, "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/x"})
            assert response.status_code == 404, path
