"""Local groups through the real chain (issue 16 item 9): `ssomw groups add|remove` is in force
at nginx within a second for a user who is signed in already, like a revocation — no new
sign-in, no directory sync."""

from __future__ import annotations

import subprocess
import time

import requests

from .conftest import API, signed_in
from .stack import REPO, Stack

WITHIN = 1.0  # seconds, from the command's return to nginx's answer


def groups_cli(stack: Stack, *args: str) -> str:
    assert stack.gateway is not None
    result = subprocess.run([str(REPO / ".venv/bin/ssomw"), "groups", *args, "-c",
                             str(stack.gateway.config_path)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def answer(session: requests.Session, stack: Stack, app: str) -> requests.Response:
    return session.get(stack.url(app, "/board"), headers=API, allow_redirects=False)


def until(session: requests.Session, stack: Stack, app: str, status: int) -> float:
    """Seconds until ``app`` answers ``status`` through nginx (fails after WITHIN)."""
    started = time.monotonic()
    while (got := answer(session, stack, app).status_code) != status:
        assert time.monotonic() - started < WITHIN, f"still {got} after {WITHIN} s"
        time.sleep(0.05)
    return time.monotonic() - started


def groups_until(session: requests.Session, stack: Stack, app: str, wanted: str) -> str:
    """The groups header ``app`` passes on once it is ``wanted`` (nginx may keep the previous
    allow for up to its cache interval, so the change, like a revocation, has WITHIN to show)."""
    started = time.monotonic()
    while (got := answer(session, stack, app).json()["headers"]["X-Auth-Request-Groups"]) != wanted:
        assert time.monotonic() - started < WITHIN, f"groups still {got!r} after {WITHIN} s"
        time.sleep(0.05)
    return got


def test_a_local_group_admits_and_its_removal_refuses_within_a_second(stack: Stack):
    bob = signed_in(stack, "bob")  # staff only; app B wants app-b-users
    assert answer(bob, stack, "app-b").status_code == 403
    out = groups_cli(stack, "add", "bob", "app-b-users")
    assert "in force now: 1 live session(s) updated" in out, out
    took = until(bob, stack, "app-b", 200)
    assert groups_until(bob, stack, "app-a", "app-b-users,staff") == "app-b-users,staff"
    print(f"admitted after {took:.2f} s")

    out = groups_cli(stack, "remove", "bob", "app-b-users")
    assert "groups now: staff" in out, out
    took = until(bob, stack, "app-b", 403)
    assert groups_until(bob, stack, "app-a", "staff") == "staff"
    print(f"refused after {took:.2f} s")


def test_groups_set_for_a_user_not_seen_yet_says_when_it_counts(stack: Stack):
    out = groups_cli(stack, "set", "nobody-yet", "app-b-users")
    assert "has not signed in yet: in force at the first sign-in" in out
    groups_cli(stack, "set", "nobody-yet")
