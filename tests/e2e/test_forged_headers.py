"""Forged identity and forwarded headers through the real chain and the shipped snippets.

The forged-header matrix (issue 17.3): every identity-like header a client might send × a
protected path (signed in), a bypass path and an ``sso: false`` app. None may reach the app
with the client's value; an ``X-Auth-Request-*`` header no snippet overwrites is refused by the
gateway. And the forwarded headers (17.4): nginx sets them, a client's are never believed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ssomw.config.schema import STRIP_DEFAULT, headers

from .conftest import API, signed_in, start_stack
from .stack import Stack

DATA = Path(__file__).resolve().parents[1] / "data" / "forged_identity_headers.txt"
IDENTITY = [spec["default"] for key, spec in headers()["properties"].items()
            if key not in ("strip", "assertion")]  # the assertion has no default: off
FORGED = list(dict.fromkeys(
    [line.strip() for line in DATA.read_text().splitlines()
     if line.strip() and not line.startswith("#")] + STRIP_DEFAULT + IDENTITY))
UNKNOWN = "X-Auth-Request-Clearance"  # in the family, in no list: the gateway must refuse it


class ForgeryStack(Stack):
    """app-a: protected, with a bypass rule on /public/; plain: SSO off. No decision cache, so
    every request is judged (a cached allow is not: see the README's nginx section)."""

    APP_NAMES = ("app-a", "plain")

    def apps_config(self) -> list[dict[str, Any]]:
        return [
            {"id": "app-a", "hosts": [self.host("app-a")], "upstream": self.apps["app-a"].url,
             "rules": [{"paths": ["^/public/"], "policy": "bypass"}]},
            {"id": "plain", "hosts": [self.host("plain")], "upstream": self.apps["plain"].url,
             "sso": False},
        ]


@pytest.fixture(scope="module")
def forgery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeryStack]:
    s = start_stack(tmp_path_factory, "forgery", ForgeryStack, cache=False)
    yield s  # type: ignore[misc]
    s.stop()


@pytest.fixture(scope="module")
def alice(forgery: ForgeryStack) -> Iterator[requests.Session]:
    with signed_in(forgery, "alice") as session:
        yield session


def received(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 200, (response.status_code, response.text[:200])
    return {k.lower(): v for k, v in response.json()["headers"].items()}


PLACES = {
    "protected": ("app-a", "/page", True),
    "bypass": ("app-a", "/public/page", False),
    "sso-off": ("plain", "/page", False),
}


@pytest.mark.parametrize("place", list(PLACES))
def test_no_forged_identity_header_reaches_the_app(forgery: ForgeryStack, alice, place: str):
    app, path, signed = PLACES[place]
    client = alice if signed else requests
    genuine = received(client.get(forgery.url(app, path), headers=API))
    leaked = []
    for name in FORGED:
        value = f"forged-{name}"
        seen = received(client.get(forgery.url(app, path), headers={**API, name: value}))
        if value in seen.values():
            leaked.append(name)
        elif seen.get(name.lower()) != genuine.get(name.lower()):
            leaked.append(f"{name} (changed)")
    assert not leaked, f"reached the app at {place}: {leaked}"
    if signed:
        assert genuine["x-auth-request-user"] == "alice"
    else:
        assert not {k for k in genuine if k.startswith("x-auth-request-")}


@pytest.mark.parametrize("place", ["protected", "bypass"])
def test_gateway_refuses_an_identity_header_no_snippet_overwrites(forgery: ForgeryStack, alice,
                                                                 place: str):
    app, path, signed = PLACES[place]
    client = alice if signed else requests
    refused = client.get(forgery.url(app, path), headers={**API, UNKNOWN: "top-secret"})
    assert refused.status_code == 403
    assert "top-secret" not in refused.text
    assert client.get(forgery.url(app, path), headers=API).status_code == 200
    assert f"the client sent {UNKNOWN}" in forgery.gateway.log_text()


def test_sso_off_app_is_never_asked_so_only_listed_names_are_cleared(forgery: ForgeryStack):
    """The documented limit: an ``sso: false`` location has no auth subrequest."""
    seen = received(requests.get(forgery.url("plain", "/page"), headers={UNKNOWN: "x"}))
    assert seen[UNKNOWN.lower()] == "x"


def test_client_forwarded_host_cannot_choose_the_sign_in_host(forgery: ForgeryStack):
    """17.4: through the shipped /sso/ location, the redirect URI follows the real host."""
    other = f"{forgery.host('plain')}:{forgery.port}"
    login = requests.get(forgery.url("app-a", "/sso/login"), allow_redirects=False,
                         params={"rd": forgery.url("app-a", "/x")},
                         headers={"X-Forwarded-Host": other, "X-Forwarded-Proto": "https"})
    assert login.status_code == 302, login.text[:200]
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    assert query["redirect_uri"] == [forgery.url("app-a", "/sso/callback")]


@pytest.mark.parametrize("place", list(PLACES))
def test_app_gets_nginx_forwarded_headers_never_the_clients(forgery: ForgeryStack, alice,
                                                          place: str):
    app, path, signed = PLACES[place]
    client = alice if signed else requests
    seen = received(client.get(forgery.url(app, path), headers={
        **API, "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}))
    assert seen["x-forwarded-host"] == f"{forgery.host(app)}:{forgery.port}"
    assert seen["x-forwarded-proto"] == "http"
