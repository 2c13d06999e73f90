"""`ssomw demo` as users run it: a real subprocess, driven with what it prints, stopped with
Ctrl-C (SIGINT): staff at the company provider with LDAP groups and profile, a group-restricted
app, the agents-only desk behind a branded choice page, the emergency login, forged headers.
"""

from __future__ import annotations

import html
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.support.browser import (
    browser_context,
    chromium_browser,
    provider_login,
    provider_logout,
    screenshot,
)
from tests.support.gateway import ssomw_executable
from tests.support.net import free_port, port_open
from tests.support.signin import parse_forms, sign_in

pytestmark = pytest.mark.e2e

READY_LINE = "Press Ctrl-C to stop."
NAV = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}


class DemoProcess:
    """`ssomw demo` with its output collected line by line (a thread drains the pipe)."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [ssomw_executable(), "demo", "--port", str(port), "--workdir", str(workdir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if READY_LINE in line:
                self.ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.reader.join(timeout=2)
                pytest.fail(f"ssomw demo did not come up:\n{self.output}")
        return self.output

    def descendants(self) -> set[int]:
        """Every process below the demo (provider, gateway and its workers, nginx and its)."""
        found: set[int] = set()
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    children = {int(c) for c in (task / "children").read_text().split()}
                except OSError:
                    continue
                todo += children - found
                found |= children
        return found

    def interrupt(self, timeout: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def stop(self) -> None:
        """Ctrl-C first, so the demo stops its own children (they run in their own sessions
        and would outlive a SIGKILLed demo); SIGKILL only if it does not end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def alive(pid: int) -> bool:
    """True for a running process (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def demo_port() -> int:
    return free_port()


@pytest.fixture
def demo(tmp_path: Path, demo_port: int) -> Iterator[DemoProcess]:
    process = DemoProcess(demo_port, tmp_path / "demo")
    yield process
    process.stop()  # only if a failed test left it running


class Printed:
    """What the demo's printout promises, read back from it as a user would."""

    def __init__(self, output: str, port: int) -> None:
        self.output = output
        self.urls = {app: f"http://{app}.ssomw.localhost:{port}/"
                     for app in ("app-a", "app-b", "desk")}
        self.passwords = dict(re.findall(r"\b(alice|bob|carol|admin) / (\S+)", output))
        self.discovery = re.findall(r"http://127\.0\.0\.1:\d+/\.well-known/openid-configuration",
                                    output)
        found = re.search(r"http://app-a\.ssomw\.localhost:\d+/sso/break-glass-[0-9a-f]+",
                          output)
        self.emergency_url = found[0] if found else ""
        found = re.search(r"^\s+(\S*ssomw groups show alice -c \S+)$", output, re.MULTILINE)
        self.groups_command = shlex.split(found[1]) if found else []
        found = re.search(r"^\s+(\S*ssomw groups add bob \S+ -c \S+)$", output, re.MULTILINE)
        self.let_bob_in = shlex.split(found[1]) if found else []
        self.ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", output)} | {port}


def identity(response: requests.Response) -> dict[str, str]:
    """The identity headers the app received (lower-cased names)."""
    assert response.status_code == 200, getattr(response, "trail", response.url)
    return {k.lower(): v for k, v in response.json()["headers"].items()
            if k.lower().startswith("x-auth-request-")}


def check_alice(printed: Printed) -> None:
    """Staff sign-in: headers with LDAP profile and mapped groups, B allowed, desk anonymous."""
    app_a, app_b, desk = printed.urls.values()
    with requests.Session() as alice:
        headers = identity(sign_in(alice, app_a + "page", "alice", printed.passwords["alice"]))
        assert headers["x-auth-request-user"] == "alice"
        assert headers["x-auth-request-email"] == "alice@example.com"
        assert headers["x-auth-request-provider"] == "corp"
        assert headers["x-auth-request-department"] == "42"  # departmentNumber in LDAP
        assert {"developers", "team-b"} <= set(headers["x-auth-request-groups"].split(","))
        forged = alice.get(app_a, timeout=5, headers={"X-Auth-Request-User": "admin",
                                                      "X-Auth-Request-Department": "1"})
        assert identity(forged)["x-auth-request-user"] == "alice"
        assert identity(forged)["x-auth-request-department"] == "42"
        page = alice.get(app_b, headers={"Accept": "text/html"}, timeout=5)
        assert page.status_code == 200
        assert "<td>X-Auth-Request-User</td><td>alice</td>" in page.text
        assert f'href="{printed.urls["desk"]}"' in page.text and "/sso/logout" in page.text
        # Not an agent: the desk is reached, but with no identity at all (passthrough).
        assert identity(alice.get(desk, timeout=5)) == {}
        page = alice.get(desk, headers={"Accept": "text/html"}, timeout=5)
        assert "No identity headers" in page.text and "passthrough" in page.text
    shown = subprocess.run(printed.groups_command, capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^\s+developers\s+ldap\s+.*engineering", shown.stdout, re.MULTILINE), \
        shown.stdout


def check_bob(printed: Printed) -> None:
    with requests.Session() as bob:
        denied = sign_in(bob, printed.urls["app-b"], "bob", printed.passwords["bob"])
        assert denied.status_code == 403, denied.trail
        assert "Example Corp" in denied.text and "help@example.com" in denied.text
        let_in = subprocess.run(printed.let_bob_in, capture_output=True, text=True, timeout=30)
        assert let_in.returncode == 0 and "1 live session(s) updated" in let_in.stdout, let_in
        deadline = time.monotonic() + 1.0  # in force at nginx within 1 s, no new sign-in
        while bob.get(printed.urls["app-b"], timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "bob is still refused at B"
            time.sleep(0.05)


def provider_links(page: str) -> dict[str, str]:
    """The choice page's links: provider id -> href."""
    links = {}
    for tag in re.findall(r"<a\b[^>]*>", page):
        provider, href = (re.search(rf'\b{name}="([^"]*)"', tag)
                          for name in ("data-provider", "href"))
        if provider and href:
            links[provider[1]] = html.unescape(href[1])
    return links


def check_carol(printed: Printed) -> None:
    """The desk offers both providers; the partner's agent arrives with her identity."""
    with requests.Session() as carol:
        choice = carol.get(printed.urls["desk"], headers=NAV, timeout=5)
        assert choice.status_code == 200 and "Sign in to Example Corp" in choice.text
        links = provider_links(choice.text)
        assert sorted(links) == ["corp", "partner"]
        assert "Example Corp login" in choice.text and "Partner login" in choice.text
        partner = urljoin(choice.url, links["partner"])
        headers = identity(sign_in(carol, partner, "carol", printed.passwords["carol"]))
        assert headers["x-auth-request-user"] == "carol@partner.example"
        assert headers["x-auth-request-provider"] == "partner"
        assert "agents" in headers["x-auth-request-groups"].split(",")
        assert "x-auth-request-department" not in headers  # not the directory's carol


def check_emergency(printed: Printed) -> None:
    with requests.Session() as admin:
        page = admin.get(printed.emergency_url, timeout=5)
        assert page.status_code == 200 and "Example Corp" in page.text
        [form] = [f for f in parse_forms(page.text) if "password" in f.fields]
        answer = admin.post(printed.emergency_url, allow_redirects=False, timeout=10, data={
            **form.fields, "username": "admin", "password": printed.passwords["admin"]})
        assert answer.status_code == 302, answer.text
        headers = identity(admin.get(printed.urls["app-a"], timeout=5))
        assert headers["x-auth-request-user"] == "admin"
        assert headers["x-auth-request-auth-method"] == "emergency"
        assert "sso-admins" in headers["x-auth-request-groups"].split(",")
        own_login = admin.get(printed.urls["app-a"] + "login", headers=NAV, timeout=5)
        assert own_login.status_code == 200 and 'action="/login"' in own_login.text
        assert [f.fields for f in parse_forms(own_login.text)] == [
            {"username": "", "password": ""}]  # a login form, as the app's own page
        assert "<code>admin</code>" in own_login.text


def check_pages_in_a_browser(printed: Printed) -> None:
    """What a visitor sees: the providers' own branded pages (no debug panel), app A's
    hidden login page after an emergency sign-in; screenshots in tests/artifacts/demo-*."""
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(printed.urls["app-a"])
        provider_page(page, "Sign in · Example Corp", "demo-provider-sign-in")
        assert "alice / " + printed.passwords["alice"] in page.inner_text("body")  # the hint
        provider_login(page, "alice", "wrong")
        provider_page(page, "Sign-in failed · Example Corp", "demo-provider-sign-in-failed")
        assert page.get_by_role("alert").inner_text() == "Invalid login or password."
        assert page.evaluate("document.activeElement.name") == "password"
        assert page.locator("input[name=login]").input_value() == "alice"
        page.fill("input[name=password]", printed.passwords["alice"])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        if page.locator("input[name=prompt][value=consent]").count():
            provider_page(page, "Allow access · Example Corp", "demo-provider-consent")
            page.click("button[type=submit]")
            page.wait_for_load_state()
        assert page.url == printed.urls["app-a"], page.url
        screenshot(page, "demo-app-a")
        page.goto(printed.urls["app-a"] + "sso/logout")
        page.click("form[action$='/sso/logout'] button[type=submit]")
        page.wait_for_load_state()
        provider_page(page, "Sign out · Example Corp", "demo-provider-sign-out")
        provider_logout(page)
        assert "You are signed out" in page.inner_text("body")
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(printed.emergency_url)
        page.fill("#username", "admin")
        page.fill("#password", printed.passwords["admin"])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(printed.urls["app-a"] + "login")
        assert page.title() == "App A: sign in"
        assert page.get_by_label("Password").get_attribute("type") == "password"
        screenshot(page, "demo-app-a-own-login")


def provider_page(page, title: str, shot: str) -> None:
    """A page of the demo provider: its own look, never oidc-provider's debug details."""
    assert page.title() == title, page.title()
    body = page.inner_text("body")
    assert "DEBUG" not in body and "Click to expand" not in body, body
    screenshot(page, shot)


def test_demo_shows_the_product_and_stops_cleanly(demo: DemoProcess, demo_port: int):
    started = time.monotonic()
    printed = Printed(demo.wait_ready(), demo_port)
    print(f"demo ready after {time.monotonic() - started:.1f} s")
    assert all(url in printed.output for url in printed.urls.values())
    assert set(printed.passwords) == {"alice", "bob", "carol", "admin"}
    assert printed.emergency_url and printed.groups_command and printed.let_bob_in
    assert len(printed.discovery) == 2
    issuers = {requests.get(url, timeout=5).json()["issuer"] for url in printed.discovery}
    assert len(issuers) == 2

    check_alice(printed)
    check_bob(printed)
    check_carol(printed)
    check_emergency(printed)
    check_pages_in_a_browser(printed)
    forged = requests.get(printed.urls["app-a"] + "public/", timeout=5,
                          headers={"X-Auth-Request-User": "admin"})
    assert forged.status_code == 200
    assert identity(forged) == {}

    # nginx, gateway, two providers, slapd, three apps
    assert len(printed.ports) == 8 and all(port_open(p) for p in printed.ports)
    children = demo.descendants()
    assert len(children) >= 5

    assert demo.interrupt() == 0, demo.output
    assert "Stopped." in demo.output
    assert not [p for p in printed.ports if port_open(p)]
    assert not [pid for pid in children if alive(pid)]


def test_demo_explains_a_busy_port(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [ssomw_executable(), "demo", "--port", str(port), "--workdir", str(tmp_path)],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--port" in result.stderr
    assert not list(tmp_path.iterdir())  # nothing started, nothing written
