"""The admin API's sessions and users calls on a real ``ssomw serve`` behind nginx, after real
sign-ins (they were tested in-process only): list a user's sessions, force a logout that nginx
sees within its 1 s decision cache, end one session by id, and set local groups that the
user's next sign-in sends to the app."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from ssomw.admin.tokens import sha256_hash

from .conftest import signed_in, start_stack, status
from .stack import Stack

TOKEN = "ssomw-e2e-sessions-token-0123456789abcd"
ADMIN = {"admin": {"tokens": [{"name": "ops", "hash": sha256_hash(TOKEN),
                               "scopes": ["sessions:admin"]}]}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory, "admin-sessions", overrides=ADMIN)
    yield s
    s.stop()


def api(stack: Stack, method: str, path: str, **kwargs) -> requests.Response:  # noqa: ANN003
    assert stack.gateway is not None
    return requests.request(method, f"{stack.gateway.url}/sso/api/v1{path}", timeout=10,
                            headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)


def wait_refused(session: requests.Session, stack: Stack) -> None:
    """nginx keeps an allow for at most 1 s: the next requests must be refused by then."""
    since = time.monotonic()
    while status(session, stack) != 401:
        assert time.monotonic() - since < 2.0, "the session still works"
        time.sleep(0.05)


def test_sessions_and_users_through_the_real_chain(stack: Stack) -> None:
    alice_laptop, alice_phone = signed_in(stack, "alice"), signed_in(stack, "alice")
    bob = signed_in(stack, "bob")

    listed = api(stack, "GET", "/sessions", params={"user": "alice"})
    assert listed.status_code == 200
    sessions = listed.json()["sessions"]
    assert len(sessions) == 2 and {s["user"] for s in sessions} == {"alice"}
    cookies = [c.value for c in alice_laptop.cookies] + [c.value for c in alice_phone.cookies]
    assert not any(value and value in listed.text for value in cookies)  # ids, never cookies

    [bobs] = api(stack, "GET", "/sessions", params={"user": "bob"}).json()["sessions"]
    assert api(stack, "DELETE", f"/sessions/{bobs['id']}").status_code == 204
    wait_refused(bob, stack)

    assert api(stack, "PUT", "/users/alice/groups",
               json={"groups": ["wiki-editors"]}).status_code == 200
    groups = api(stack, "GET", "/users/alice/groups").json()
    assert groups["local"] == ["wiki-editors"] and groups["known"] is True

    assert api(stack, "DELETE", "/users/alice/sessions").status_code == 204
    wait_refused(alice_laptop, stack)
    wait_refused(alice_phone, stack)
    assert api(stack, "GET", "/sessions", params={"user": "alice"}).json()["sessions"] == []

    again = signed_in(stack, "alice")  # local groups take effect at the next sign-in
    echoed = again.get(stack.url("app-a", "/page"), timeout=10).json()
    headers = {k.lower(): v for k, v in echoed["headers"].items()}
    assert "wiki-editors" in headers["x-auth-request-groups"].split(",")
