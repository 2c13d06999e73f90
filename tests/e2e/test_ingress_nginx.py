"""ingress-nginx (contract §8): a sign-in end to end through an nginx shaped like the one the
controller generates from the Ingress objects `ssomw proxy ingress-nginx` prints."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.support.signin import sign_in

from .conftest import start_stack
from .ingress_stack import IngressStack

FORGED = {"X-Auth-Request-User": "mallory", "Remote-User": "mallory"}


@pytest.fixture(scope="module")
def ingress_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngressStack]:
    stack = start_stack(tmp_path_factory, "ingress", IngressStack)
    yield stack
    stack.stop()


def echo_headers(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in json.loads(response.text)["headers"].items()}


def test_sign_in_end_to_end(ingress_stack: IngressStack):
    with requests.Session() as session:
        start = ingress_stack.url("app-a", "/dashboard")
        first = session.get(start, allow_redirects=False, headers={"Accept": "text/html"})
        assert first.status_code == 302  # auth-signin, from the controller's 401 handler
        assert first.headers["Location"] == ingress_stack.url(
            "app-a", f"/sso/login?rd={start}")
        response = sign_in(session, start, "alice", "test-password")
        assert response.status_code == 200, response.trail
        assert response.url == start
        seen = echo_headers(session.get(start, headers=FORGED))
    assert seen["x-auth-request-user"] == "alice"
    assert seen["x-auth-request-groups"] == "app-b-users,staff"
    assert "remote-user" not in seen  # configuration-snippet cleared it


def test_anonymous_forged_headers_never_reach_the_app(ingress_stack: IngressStack,
                                                      http: requests.Session):
    seen = echo_headers(http.get(ingress_stack.url("app-a", "/public/x"), headers=FORGED))
    assert "x-auth-request-user" not in seen and "remote-user" not in seen


def test_user_outside_the_group_is_refused(ingress_stack: IngressStack):
    with requests.Session() as session:
        assert sign_in(session, ingress_stack.url("app-a", "/"), "bob",
                       "test-password").status_code == 200
        assert session.get(ingress_stack.url("app-b", "/")).status_code == 403


def test_an_api_client_is_also_sent_to_sign_in(ingress_stack: IngressStack,
                                               http: requests.Session):
    """ingress-nginx's auth-signin turns every 401 into a redirect (a documented limit: use
    Caddy, Traefik or ssomw nginx where API clients must get a bare 401)."""
    response = http.get(ingress_stack.url("app-a", "/api"), allow_redirects=False,
                        headers={"Accept": "application/json"})
    assert response.status_code == 302
