"""Step-up per rule (contract §9, issue 20.1) through the real chain: nginx (with its decision
cache on), the gateway and oidc-provider, which honours ``max_age``/``prompt=login`` and is
told the ``acr`` of the next sign-ins.

app-a: ``/admin/`` needs a sign-in at most :data:`MAX_AGE` seconds old, ``/vault/`` one made
with the MFA acr; every other path (and app-b) needs only a session.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.signin import sign_in

from .conftest import API, signed_in, start_stack
from .stack import Stack

NAV = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
MAX_AGE = 6
MFA = "urn:test:mfa"
WEAK = "urn:test:loa1"
WHY = "did not ask you to sign in again, or not with the required method"


class StepUpStack(Stack):
    def apps_config(self) -> list[dict[str, Any]]:
        apps = super().apps_config()
        apps[0]["rules"] = [{"paths": ["^/public/"], "policy": "bypass"},
                            {"paths": ["^/admin/"], "policy": "authenticated",
                             "max_age": f"{MAX_AGE}s"},
                            {"paths": ["^/vault/"], "policy": "authenticated", "acr": [MFA]}]
        return apps


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StepUpStack]:
    s = start_stack(tmp_path_factory, "step-up", StepUpStack)
    assert s.provider is not None
    s.provider.set_level(WEAK)
    yield s
    s.stop()


def status(browser: requests.Session, url: str) -> int:
    return browser.get(url, headers=API, allow_redirects=False).status_code


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def cookie(browser: requests.Session) -> str:
    return browser.cookies.get("ssomw_session") or ""


def refused_within(stack: Stack, old: str, seconds: float) -> bool:
    """The replaced session ends (nginx's cache may hold its last allow for under 1 s)."""
    return wait_for(lambda: requests.get(stack.url("app-a", "/page"), headers=API,
                                         cookies={"ssomw_session": old},
                                         allow_redirects=False).status_code == 401, seconds)


def test_a_too_old_session_signs_in_again_at_the_rule_and_nowhere_else(stack: StepUpStack):
    assert stack.provider is not None
    alice = signed_in(stack, "alice", "app-a")
    unknown = cookie(alice)
    # That sign-in did not ask for max_age, so the provider sent no auth_time: its age is
    # unknown, which counts as too old (fail closed). The first visit signs in with max_age
    # but without prompt=login: the provider's own sign-in is recent, so it answers at once,
    # now with an auth_time, and the user is back at /admin/ without typing anything.
    assert status(alice, stack.url("app-a", "/admin/")) == 401
    assert status(alice, stack.url("app-a", "/page")) == 200
    quiet = sign_in(alice, stack.url("app-a", "/admin/"), "alice", "test-password")
    assert quiet.status_code == 200 and quiet.json()["path"] == "/admin/"
    assert not any("/interaction/" in u for u in quiet.trail)  # type: ignore[attr-defined]
    sent = stack.provider.last_auth_params()
    assert sent["max_age"] == str(MAX_AGE) and "prompt" not in sent
    first = cookie(alice)
    assert first != unknown and refused_within(stack, unknown, 1.5)
    assert status(alice, stack.url("app-a", "/admin/")) == 200  # recent: no question asked
    # Once the sign-in is older than max_age, /admin/ answers like "not signed in" ...
    assert wait_for(lambda: status(alice, stack.url("app-a", "/admin/")) == 401, MAX_AGE + 5)
    # ... while other paths and apps never ask, even with an allow just cached for /page.
    assert status(alice, stack.url("app-a", "/page")) == 200
    assert status(alice, stack.url("app-a", "/admin/")) == 401
    assert status(alice, stack.url("app-b", "/")) == 200
    nav = alice.get(stack.url("app-a", "/admin/users?x=1"), headers=NAV, allow_redirects=False)
    assert nav.status_code == 302
    login = urlsplit(nav.headers["Location"])
    assert login.path == "/sso/login"
    assert parse_qs(login.query)["rd"] == [stack.url("app-a", "/admin/users?x=1")]

    # A provider that ignores the request answers with its old sign-in: no way in, and the
    # page says why; the session the browser had stays as it was.
    stack.provider.ignore_step_up(True)
    try:
        refused = sign_in(alice, stack.url("app-a", "/admin/users"), "alice", "test-password")
    finally:
        stack.provider.ignore_step_up(False)
    sent = stack.provider.last_auth_params()
    assert sent["max_age"] == str(MAX_AGE) and sent["prompt"] == "login"
    assert refused.status_code == 403 and "AUTH_LEVEL_NOT_MET" in refused.text
    assert WHY in refused.text
    assert len(refused.history) < 10  # refused at once, never a redirect loop
    assert cookie(alice) == first and status(alice, stack.url("app-a", "/page")) == 200

    # The real step-up: the provider asks again (prompt=login), back at the same URL, with a
    # new session id (no fixation) whose auth_time is new.
    page = sign_in(alice, stack.url("app-a", "/admin/users?x=1"), "alice", "test-password")
    assert page.status_code == 200, page.trail  # type: ignore[attr-defined]
    assert page.json()["path"] == "/admin/users?x=1"
    assert any("/interaction/" in url for url in page.trail)  # type: ignore[attr-defined]
    assert stack.provider.last_auth_params()["prompt"] == "login"
    second = cookie(alice)
    assert second and second != first
    assert refused_within(stack, first, 1.5)
    assert status(alice, stack.url("app-a", "/admin/")) == 200
    assert status(alice, stack.url("app-b", "/")) == 200


def test_a_rule_acr_sends_a_weaker_session_to_sign_in_again(stack: StepUpStack):
    assert stack.provider is not None
    stack.provider.set_level(WEAK)
    alice = signed_in(stack, "alice", "app-a")
    first = cookie(alice)
    assert status(alice, stack.url("app-a", "/vault/")) == 401
    assert status(alice, stack.url("app-a", "/page")) == 200

    # The provider signs her in again but only with the weaker acr: refused, and said why.
    weak = sign_in(alice, stack.url("app-a", "/vault/k"), "alice", "test-password")
    sent = stack.provider.last_auth_params()
    assert sent["acr_values"] == MFA and sent["prompt"] == "login"
    assert weak.status_code == 403 and "AUTH_LEVEL_NOT_MET" in weak.text and WHY in weak.text
    assert cookie(alice) == first and status(alice, stack.url("app-a", "/page")) == 200

    stack.provider.set_level(MFA)
    try:
        page = sign_in(alice, stack.url("app-a", "/vault/k"), "alice", "test-password")
    finally:
        stack.provider.set_level(WEAK)
    assert page.status_code == 200, page.trail  # type: ignore[attr-defined]
    assert page.json()["path"] == "/vault/k"
    second = cookie(alice)
    assert second and second != first
    assert refused_within(stack, first, 1.5)
    assert status(alice, stack.url("app-a", "/vault/other")) == 200
    assert status(alice, stack.url("app-b", "/")) == 200


def test_an_api_call_to_a_step_up_path_gets_a_bare_401(stack: StepUpStack):
    stack.provider.set_level(WEAK)
    alice = signed_in(stack, "alice", "app-a")
    api = alice.get(stack.url("app-a", "/vault/x"), headers={"Accept": "application/json",
                                                             "X-Requested-With": "XMLHttpRequest"},
                    allow_redirects=False)
    assert api.status_code == 401 and "Location" not in api.headers
