"""The emergency login through the real chain (issue 6): LDAP credentials against a real slapd,
the group restriction, throttling and lockout, the hidden local login page, the provider down;
and (issue 14, item 6) parallel attempts judged at most once, no worker stalled by the form.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ssomw.store import open_store
from ssomw.telemetry import audit
from tests.support.browser import browser_context, chromium_browser, screenshot
from tests.support.signin import parse_forms, sign_in

from .conftest import API, start_stack
from .stack import REPO
from .test_directory import DirectoryStack

NAV = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
PATH = "/sso/break-glass-7f3a91c2e8d4b6a0"
FAILED = "Sign-in failed."  # the one failure text, whatever the reason
# Long enough that `ssomw emergency bans` (a CLI start-up, slow on a busy host) still sees it.
LOCKOUT = 6


class EmergencyStack(DirectoryStack):
    def apps_config(self) -> list[dict[str, Any]]:
        apps = super().apps_config()
        apps[0]["local_login_paths"] = ["/login.jsp"]
        return apps

    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        config["emergency"] = {
            "enabled": True, "path": PATH, "allowed_groups": ["sso-admins"],
            "credentials": "ldap", "max_lifetime": "20m",
            "min_response_time": 10.0,  # deprecated and ignored: no answer sleeps any more
            "throttle": {"max_failures": 4, "max_failures_per_address": 2, "window": 60,
                         "lockout": LOCKOUT, "base_delay": 0.5,
                         "max_delay": 1}}
        return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[EmergencyStack]:
    stack = start_stack(tmp_path_factory, "emergency", EmergencyStack)
    yield stack
    stack.stop()


def attempt(stack: EmergencyStack, username: str, password: str,
            session: requests.Session | None = None) -> tuple[requests.Response, float]:
    session = session or requests.Session()
    page = session.get(stack.url("app-a", PATH), params={"rd": stack.url("app-a", "/")})
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    [form] = [f for f in parse_forms(page.text) if "password" in f.fields]
    started = time.monotonic()
    response = session.post(stack.url("app-a", PATH), allow_redirects=False,
                            data={**form.fields, "username": username, "password": password})
    return response, time.monotonic() - started


def form_fields(stack: EmergencyStack, session: requests.Session) -> dict[str, str]:
    page = session.get(stack.url("app-a", PATH), params={"rd": stack.url("app-a", "/")})
    [form] = [f for f in parse_forms(page.text) if "password" in f.fields]
    return dict(form.fields)


def in_parallel(count: int, action) -> list:  # noqa: ANN001
    """Run ``action(i)`` in ``count`` threads released together; their results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = action(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def unban(stack: EmergencyStack) -> None:
    subprocess.run([str(REPO / ".venv/bin/ssomw"), "emergency", "unban", "--all", "-c",
                    str(stack.gateway.config_path)], check=True, capture_output=True)


def test_admin_gets_a_marked_short_session(stack: EmergencyStack):
    unban(stack)
    session = requests.Session()
    response, _ = attempt(stack, "root-admin", "test-password", session)
    assert response.status_code == 302 and response.headers["Location"] == stack.url("app-a", "/")
    echo = session.get(stack.url("app-a", "/x"), headers=API).json()["headers"]
    assert echo["X-Auth-Request-User"] == "root-admin"
    assert echo["X-Auth-Request-Auth-Method"] == "emergency"
    assert "sso-admins" in echo["X-Auth-Request-Groups"]
    cookie = next(c for c in session.cookies if c.name == "ssomw_session")
    assert cookie.expires - time.time() < 20 * 60 + 5  # emergency.max_lifetime, not 8 h
    events = audit.query(open_store(stack.config()["store"]), event_type="emergency_login")
    assert events[-1]["user"] == "root-admin" and events[-1]["outcome"] == "success"


@pytest.mark.parametrize("username, password", [
    pytest.param("alice", "test-password", id="right-password-wrong-group"),
    pytest.param("root-admin", "wrong-password", id="wrong-password"),
    pytest.param("nobody-such", "test-password", id="unknown-user"),
    pytest.param("*)(uid=*", "test-password", id="filter-injection"),
    pytest.param("root-admin", "", id="empty-password"),
])
def test_every_refusal_looks_the_same(stack: EmergencyStack, username: str, password: str):
    unban(stack)
    response, took = attempt(stack, username, password)
    assert response.status_code == 401 and FAILED in response.text
    assert "ssomw_session" not in response.headers.get("Set-Cookie", "")
    assert took < 10.0  # min_response_time (10 s here) is ignored: nothing sleeps
    events = audit.query(open_store(stack.config()["store"]), event_type="emergency_login")
    assert events[-1]["outcome"] == "failure" and events[-1]["reason"]


def test_brute_force_is_locked_out_and_the_lock_ends_on_time(stack: EmergencyStack):
    """One address guessing is stopped by its own limit (2 here), before the user's (4), and
    the lockout (LOCKOUT s) ends on time although attempts keep coming during it (issue 17 item 5:
    each refused attempt used to renew it)."""
    unban(stack)
    for n in range(2):
        response, _ = attempt(stack, "root-admin", "guess")
        assert response.status_code == 401
        if n == 0:
            wait_past_delay(stack)
    locked_at = time.monotonic()
    locked, _ = attempt(stack, "root-admin", "test-password")  # right password, locked out
    assert locked.status_code == 401 and FAILED in locked.text
    bans = subprocess.run([str(REPO / ".venv/bin/ssomw"), "emergency", "bans", "-c",
                           str(stack.gateway.config_path)], capture_output=True, text=True)
    assert "addr:127.0.0.1" in bans.stdout and "user:root-admin" not in bans.stdout
    while (response := attempt(stack, "root-admin", "test-password")[0]).status_code == 401:
        assert time.monotonic() - locked_at < LOCKOUT + 5, "the lockout was extended"
        time.sleep(0.3)
    assert response.status_code == 302 and time.monotonic() - locked_at >= LOCKOUT - 0.5


def wait_past_delay(stack: EmergencyStack) -> None:
    """Until the "not before" gate of the last failure has passed (read from the store, so
    no margin on the wall clock): the next attempt is then judged."""
    store = open_store(stack.config()["store"])
    try:
        while store.kv_get("throttle-not-before", "addr:127.0.0.1") is not None:
            time.sleep(0.05)
    finally:
        store.close()


def test_an_attempt_within_the_delay_is_refused_unjudged(stack: EmergencyStack):
    unban(stack)
    attempt(stack, "root-admin", "guess")
    too_soon, _ = attempt(stack, "root-admin", "test-password")  # < base_delay later
    assert too_soon.status_code == 401
    wait_past_delay(stack)
    assert attempt(stack, "root-admin", "test-password")[0].status_code == 302


def test_form_needs_its_csrf_token(stack: EmergencyStack):
    response = requests.post(stack.url("app-a", PATH), allow_redirects=False,
                             data={"username": "root-admin", "password": "test-password"})
    assert response.status_code == 400


def test_local_login_page_is_hidden_except_after_emergency_login(stack: EmergencyStack):
    unban(stack)
    anonymous = requests.get(stack.url("app-a", "/login.jsp"), headers=NAV,
                             allow_redirects=False)
    assert anonymous.status_code == 302 and "/sso/login" in anonymous.headers["Location"]
    normal = requests.Session()
    sign_in(normal, stack.url("app-a", "/"), "alice", "test-password")
    hidden = normal.get(stack.url("app-a", "/login.jsp"), headers=NAV, allow_redirects=False)
    assert hidden.status_code == 302
    admin = requests.Session()
    attempt(stack, "root-admin", "test-password", admin)
    shown = admin.get(stack.url("app-a", "/login.jsp"), headers=API)
    assert shown.status_code == 200 and shown.json()["path"] == "/login.jsp"


def test_browser_drives_the_emergency_form(stack: EmergencyStack):
    unban(stack)
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(stack.url("app-a", PATH) + "?rd=" + stack.url("app-a", "/dashboard"))
        screenshot(page, "emergency-form")
        page.fill("input[name=username]", "root-admin")
        page.fill("input[name=password]", "test-password")
        page.click("button[type=submit]")
        page.wait_for_url(stack.url("app-a", "/dashboard"))
        assert '"root-admin"' in page.inner_text("body")


def test_provider_down_sessions_live_on_and_admins_get_in(stack: EmergencyStack):
    unban(stack)
    existing = requests.Session()
    sign_in(existing, stack.url("app-a", "/"), "bob", "test-password")
    stack.provider.stop()
    time.sleep(1.1)  # the gateway trusts a successful probe of the provider for 1 s
    try:
        assert existing.get(stack.url("app-a", "/still"), headers=API).status_code == 200
        newcomer = requests.Session()
        first = newcomer.get(stack.url("app-a", "/"), headers=NAV)
        assert first.status_code == 503 and "PROVIDER_UNAVAILABLE" in first.text
        assert "Traceback" not in first.text
        admin = requests.Session()
        assert attempt(stack, "root-admin", "test-password", admin)[0].status_code == 302
        assert admin.get(stack.url("app-a", "/"), headers=API).status_code == 200
        refused, _ = attempt(stack, "alice", "test-password")
        assert refused.status_code == 401
    finally:
        stack.provider.start()


@pytest.mark.parametrize("round_", range(4))
def test_parallel_guesses_through_nginx_are_judged_once(stack: EmergencyStack, round_: int):
    """Check-then-count judged one guess per worker; reserved attempts judge one in all."""
    unban(stack)
    since = time.time()
    sessions = [requests.Session() for _ in range(8)]
    fields = [form_fields(stack, s) for s in sessions]
    statuses = in_parallel(8, lambda i: sessions[i].post(
        stack.url("app-a", PATH), allow_redirects=False,
        data={**fields[i], "username": "root-admin", "password": "guess"}).status_code)
    assert statuses == [401] * 8
    events = audit.query(open_store(stack.config()["store"]), since=since,
                         event_type="emergency_login")
    assert sorted(e["reason"] for e in events) == ["bad credentials"] + ["throttled"] * 7


def test_emergency_posts_in_flight_do_not_stall_auth(stack: EmergencyStack):
    """Two sync workers; four clients keep emergency POSTs in flight for over a second, and
    /sso/auth (through nginx, past its decision cache) still answers at once."""
    unban(stack)
    alice = requests.Session()
    sign_in(alice, stack.url("app-a", "/"), "alice", "test-password")
    attackers = [requests.Session() for _ in range(4)]
    fields = [form_fields(stack, s) for s in attackers]
    stop = time.monotonic() + 1.5
    sent: list[int] = []

    def flood(i: int) -> None:
        while time.monotonic() < stop:
            attackers[i].post(stack.url("app-a", PATH), allow_redirects=False,
                              data={**fields[i], "username": f"user{i}", "password": "x"})
            sent.append(i)

    threads = [threading.Thread(target=flood, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    timings = []
    for n in range(8):
        started = time.monotonic()
        response = alice.get(stack.url("app-a", f"/page?n={n}-{started}"), headers=API)
        timings.append(time.monotonic() - started)
        assert response.status_code == 200
        time.sleep(0.1)
    for t in threads:
        t.join()
    # A worker held by an emergency POST would stall /sso/auth for the whole POST (seconds:
    # min_response_time is 10 s here); 1 s leaves room for a busy host, where 0.35 s was seen.
    assert max(timings) < 1.0, timings
    assert len(sent) >= 8, "the POSTs kept coming"
