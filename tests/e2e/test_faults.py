"""Faults through the real chain (issue 17): nginx → ``ssomw serve`` (2 workers) → provider,
with the SQLite store on a small file system of its own that the tests fill.

* a full disk: every page that must write answers nginx's client the 503 "temporarily
  unavailable" page (never 500), readiness says so, a logout answers 503 and the CLI prints
  one line; freeing the disk heals everything without a restart (items 1 and 6);
* malformed URLs in ``rd`` and ``X-Original-URL`` sent through nginx (item 8).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from argon2 import PasswordHasher

from ssomw.oidc.provider import PROBE_TTL
from tests.support.disk import SmallDisk
from tests.support.signin import gateway_logout, parse_forms

from .conftest import cli, signed_in, start_stack
from .stack import REPO, Stack

EMERGENCY = "/sso/break-glass-4b1e0c9d2a7f6e35"
UNAVAILABLE = "temporarily unavailable"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


class FaultStack(Stack):
    def __init__(self, workdir: Any, disk: SmallDisk, **options: Any) -> None:
        super().__init__(workdir, **options)
        self.disk = disk

    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        config["store"] = {"backend": "sqlite", "path": str(self.disk.path / "ssomw.db")}
        config["emergency"] = {
            "enabled": True, "path": EMERGENCY, "allowed_groups": ["sso-admins"],
            "credentials": "local", "throttle": {"max_failures": 1000},
            "local_users": [{"username": "admin", "hash": CHEAP.hash("right")}]}
        return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    with SmallDisk(tmp_path_factory.mktemp("faults-disk"), size="24M") as disk:
        s = start_stack(tmp_path_factory, "faults", FaultStack, disk=disk)
        yield s
        s.stop()


@pytest.fixture
def full_disk(stack: FaultStack) -> Iterator[None]:
    stack.disk.fill()
    try:
        yield
    finally:
        stack.disk.free()


def ready(stack: FaultStack) -> int:
    assert stack.gateway is not None
    return requests.get(f"{stack.gateway.url}/sso/readyz", timeout=5).status_code


def wait_ready_status(stack: FaultStack, status: int, timeout: float = 15.0) -> None:
    """Every worker's readiness answers ``status`` (each probes at most every 5 s)."""
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    while time.monotonic() < deadline:
        seen = [ready(stack) for _ in range(6)]  # both workers, whichever answers
        if set(seen) == {status}:
            return
        time.sleep(0.2)
    raise AssertionError(f"readiness never settled on {status}: last {seen}")


def emergency_form(session: requests.Session, stack: FaultStack) -> dict[str, str]:
    page = session.get(stack.url("app-a", EMERGENCY), timeout=10)
    assert page.status_code == 200, page.text[:200]
    [form] = [f for f in parse_forms(page.text) if "password" in f.fields]
    return {**form.fields, "username": "admin", "password": "wrong"}


def assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert UNAVAILABLE in response.text
    assert "Location" not in response.headers


def test_a_full_disk_makes_every_writing_page_503_and_readiness_says_so(
        stack: FaultStack) -> None:
    wait_ready_status(stack, 200)
    user = signed_in(stack)
    assert user.get(stack.url("app-a", "/page"), timeout=10).status_code == 200
    browser = requests.Session()
    form = emergency_form(browser, stack)
    logout_page = user.get(stack.url("app-a", "/sso/logout"), timeout=10)
    [logout_form] = [f for f in parse_forms(logout_page.text) if "csrf" in f.fields]

    stack.disk.fill()
    try:
        wait_ready_status(stack, 503)
        assert_unavailable(requests.get(stack.url("app-a", "/sso/login?rd=/"),
                                        allow_redirects=False, timeout=10))
        assert_unavailable(requests.get(stack.url("app-a", EMERGENCY), timeout=10))
        assert_unavailable(browser.post(stack.url("app-a", EMERGENCY), data=form,
                                        allow_redirects=False, timeout=10))
        assert_unavailable(user.post(stack.url("app-a", "/sso/logout"),
                                     data=logout_form.fields, allow_redirects=False,
                                     timeout=10))
        revoke = cli(stack, "revoke", "--all")
        assert revoke.returncode == 1, revoke
        [line] = revoke.stderr.strip().splitlines()
        assert line.startswith("ssomw: the store is unavailable") and "nothing was revoked" \
            in line
        assert "Traceback" not in revoke.stderr + revoke.stdout
        # the logout did not happen, so the session still works: nothing was half done
        assert user.get(stack.url("app-a", "/page"), timeout=10).status_code == 200
    finally:
        stack.disk.free()

    wait_ready_status(stack, 200)  # by itself, no restart
    assert requests.get(stack.url("app-a", "/sso/login?rd=/"), allow_redirects=False,
                        timeout=10).status_code == 302
    assert browser.post(stack.url("app-a", EMERGENCY), data=emergency_form(browser, stack),
                        timeout=10).status_code == 401
    assert cli(stack, "revoke", "--all").returncode == 0


@pytest.mark.parametrize("url", [
    "http://[::1", "https://[::1/broken", "http://app-a.ssomw.localhost:99999/",
    "http://[v1.x]/", "//[::1", "http://]/",
])
@pytest.mark.parametrize("page", ["/sso/callback", "/sso/login", EMERGENCY, "/sso/logout",
                                  "/sso/logged-out"])
def test_a_malformed_url_never_makes_a_page_fail(stack: FaultStack, page: str,
                                                 url: str) -> None:
    response = requests.get(stack.url("app-a", page), params={"rd": url},
                            allow_redirects=False, timeout=10)
    assert response.status_code < 500, (response.status_code, response.text[:300])
    location = response.headers.get("Location", "")
    assert "[::1" not in location and "]" not in location.split("?")[0], location


def test_a_malformed_url_in_a_posted_form_never_makes_a_page_fail(stack: FaultStack) -> None:
    browser = requests.Session()
    form = emergency_form(browser, stack)
    for url in ("http://[::1", "http://app-a.ssomw.localhost:0x/"):
        response = browser.post(stack.url("app-a", EMERGENCY), params={"rd": url},
                                data={**form, "rd": url}, allow_redirects=False, timeout=10)
        assert response.status_code == 401, (response.status_code, response.text[:300])


def test_cli_lists_sessions_or_says_why_not(stack: FaultStack,
                                            full_disk: None) -> None:
    """Reading still works on a full disk: the list is printed as usual."""
    done = subprocess.run([str(REPO / ".venv/bin/ssomw"), "sessions", "list", "-c",
                           str(stack.gateway.config_path)], capture_output=True, text=True)
    assert done.returncode == 0 and "session(s)" in done.stdout, done


def test_logout_while_the_provider_is_down_ends_here_and_says_so(stack: FaultStack) -> None:
    """Item 10: the browser used to be sent to the dead provider's logout page."""
    user = signed_in(stack)
    probed = time.monotonic()  # sign-in probed the provider at the latest now
    assert stack.provider is not None
    stack.provider.stop()
    # a probe's success is trusted for PROBE_TTL: later than that, the logout must notice
    time.sleep(max(0.0, probed + PROBE_TTL + 0.05 - time.monotonic()))
    try:
        done = gateway_logout(user, stack.url("app-a", "/sso/logout"), allow_redirects=False)
        assert done.status_code == 302
        assert done.headers["Location"] == "/sso/logged-out", done.headers["Location"]
        page = user.get(stack.url("app-a", "/sso/logged-out"), timeout=10)
        assert page.status_code == 200 and "signed out" in page.text.lower()
        assert user.get(stack.url("app-a", "/page"), headers={"Accept": "application/json"},
                        allow_redirects=False, timeout=10).status_code == 401
    finally:
        stack.provider.start()


@pytest.mark.parametrize("url", ["http://[::1", "http://app-a.ssomw.localhost:99999/x"])
def test_a_malformed_original_url_header_never_makes_a_page_fail(stack: FaultStack,
                                                                 url: str) -> None:
    """A client's own X-Original-URL reaches the gateway's pages through the /sso/ location
    (the 404 and error pages read it to pick the app's templates)."""
    for page in ("/sso/nowhere", "/sso/callback", "/sso/forbidden"):
        response = requests.get(stack.url("app-a", page), headers={"X-Original-URL": url},
                                allow_redirects=False, timeout=10)
        assert response.status_code < 500, (page, response.status_code, response.text[:200])
