"""Who a sign-in is, and how strong it was, through the real chain.

Two providers: ``idp`` is declared authoritative for usernames, ``weak`` is not (anyone who
can edit their profile there could claim any name). One app needs an MFA sign-in
(``auth_params.acr_values``); the test provider is told which ``acr`` each login counts as.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest
import requests

from tests.support.oidc_provider import OidcProvider
from tests.support.signin import sign_in

from .conftest import signed_in, start_stack
from .stack import REPO, Stack

NAV = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
WEAK_USERS: dict[str, dict[str, Any]] = {
    # Claims another user's name, with a verified address of her own.
    "eve": {"email": "eve@weak.example", "email_verified": True, "name": "Eve",
            "preferred_username": "alice", "groups": []},
    # Claims alice's address, unverified.
    "mallory": {"email": "alice@example.com", "email_verified": False, "name": "Mallory",
                "preferred_username": "mallory", "groups": []},
}
MFA = "urn:test:mfa"
WEAK = "urn:test:loa1"


class LevelStack(Stack):
    APP_NAMES = ("app-a", "app-b", "app-mfa")

    def start_providers(self) -> None:
        super().start_providers()
        self.weak = OidcProvider(self.workdir / "weak", users=WEAK_USERS,
                                 clients=[self.client()]).start()
        self.extra_providers.append(self.weak)
        self.provider.set_level(WEAK)

    def providers_config(self) -> list[dict[str, Any]]:
        [idp] = super().providers_config()
        return [idp, {**idp, "id": "weak", "name": "Weak", "issuer": self.weak.issuer,
                      "authoritative": []}]

    def apps_config(self) -> list[dict[str, Any]]:
        def app(name: str, **extra: Any) -> dict[str, Any]:
            return {"id": name, "hosts": [self.host(name)], "upstream": self.apps[name].url,
                    **extra}
        return [app("app-a"), app("app-b", allowed_groups=["admins"]),
                app("app-mfa", providers=["idp"], auth_params={"acr_values": MFA})]

    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        config["routing"] = {"default": "idp",
                             "allowed_email_domains": ["example.com", "weak.example"]}
        return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    s = start_stack(tmp_path_factory, "identity-level", LevelStack)
    assert s.gateway is not None
    result = subprocess.run([str(REPO / ".venv/bin/ssomw"), "groups", "add", "alice", "admins",
                             "-c", str(s.gateway.config_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    yield s
    s.stop()


def identity(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.json()["headers"].items()}


def at_weak(stack: LevelStack, user: str, app: str,
            session: requests.Session | None = None) -> requests.Response:
    login = stack.url(app, "/sso/login?idp=weak&rd=" + stack.url(app, "/"))
    return sign_in(session or requests.Session(), login, user, "test-password")


def test_authoritative_provider_names_the_user_and_local_groups_apply(stack: LevelStack):
    alice = signed_in(stack, "alice", "app-b")
    response = alice.get(stack.url("app-b", "/"))
    assert response.status_code == 200
    headers = identity(response)
    assert headers["x-auth-request-user"] == "alice"
    assert "admins" in headers["x-auth-request-groups"].split(",")


def test_a_name_claim_from_a_provider_not_authoritative_is_no_identity(stack: LevelStack):
    """eve's profile at the weak provider says preferred_username: alice. She must not become
    alice (whose local groups admit her to app-b)."""
    page = at_weak(stack, "eve", "app-a")
    assert page.status_code == 200, page.trail  # type: ignore[attr-defined]
    headers = identity(page)
    assert headers["x-auth-request-user"] == "eve@weak"
    assert headers["x-auth-request-preferred-username"] == "alice"  # shown, never trusted
    assert "admins" not in headers.get("x-auth-request-groups", "")
    session_b = at_weak(stack, "eve", "app-b")
    assert session_b.status_code == 403


def test_an_unverified_email_never_passes_the_domain_check(stack: LevelStack):
    """mallory claims alice@example.com without email_verified: for allowed_email_domains she
    has no address, so the sign-in is refused and no session is made."""
    browser = requests.Session()
    page = at_weak(stack, "mallory", "app-a", browser)
    assert page.status_code == 403
    assert "ssomw_session" not in browser.cookies


def test_app_requiring_mfa_sends_a_weaker_session_to_sign_in_again(stack: LevelStack):
    """Signed in at app-a without MFA, alice opens app-mfa: she is sent to sign in with the
    app's acr_values and prompt=login, and continues with a new session id."""
    stack.provider.set_level(WEAK)
    alice = signed_in(stack, "alice", "app-a")
    old_cookie = alice.cookies.get("ssomw_session")
    first = alice.get(stack.url("app-mfa", "/x"), headers=NAV, allow_redirects=False)
    assert first.status_code == 302 and "/sso/login" in first.headers["Location"]
    api = alice.get(stack.url("app-mfa", "/x"), headers={"Accept": "application/json"},
                    allow_redirects=False)
    assert api.status_code == 401 and "Location" not in api.headers
    stack.provider.set_level(MFA)
    try:
        page = sign_in(alice, stack.url("app-mfa", "/x"), "alice", "test-password")
    finally:
        stack.provider.set_level(WEAK)
    assert page.status_code == 200, page.trail  # type: ignore[attr-defined]
    assert page.json()["app"] == "app-mfa"
    sent = stack.provider.last_auth_params()
    assert sent["acr_values"] == MFA and sent["prompt"] == "login"
    new_cookie = alice.cookies.get("ssomw_session")
    assert new_cookie and new_cookie != old_cookie
    assert refused_within(stack, old_cookie, 1.5)  # the replaced session ended (nginx's
    # decision cache may hold its last allow for the rest of the second)


def refused_within(stack: LevelStack, cookie: str | None, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stale = requests.get(stack.url("app-a", "/"), headers={"Accept": "application/json"},
                             cookies={"ssomw_session": cookie or ""})
        if stale.status_code == 401:
            return True
        time.sleep(0.05)
    return False


def test_a_provider_that_ignores_the_mfa_request_does_not_get_the_user_in(stack: LevelStack):
    stack.provider.set_level(WEAK)
    alice = signed_in(stack, "alice", "app-a")
    page = sign_in(alice, stack.url("app-mfa", "/y"), "alice", "test-password")
    assert page.status_code == 403
    assert "AUTH_LEVEL_NOT_MET" in page.text or "level" in page.text.lower()
    assert len(page.history) < 10  # refused at once, never a redirect loop
    still = alice.get(stack.url("app-a", "/"), headers={"Accept": "application/json"})
    assert still.status_code == 200  # the refused step-up leaves the session as it was
