"""Sign-in through the real chain: nginx → gateway → oidc-provider, identity headers at the app."""

from __future__ import annotations

import requests

from tests.support.signin import sign_in

from .stack import Stack


def test_signed_in_user_reaches_app_with_identity_headers(stack: Stack, http: requests.Session):
    response = sign_in(http, stack.url("app-a", "/some/page?x=1"), "alice", "test-password")
    assert response.status_code == 200, response.trail
    echo = response.json()
    assert echo["app"] == "app-a"
    assert echo["path"] == "/some/page?x=1"
    headers = {k.lower(): v for k, v in echo["headers"].items()}
    assert headers["x-auth-request-user"] == "alice"
    assert headers["x-auth-request-email"] == "alice@example.com"
    assert headers["x-auth-request-groups"] == "app-b-users,staff"
    assert headers["x-auth-request-provider"] == "idp"
