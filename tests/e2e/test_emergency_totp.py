"""The emergency login's second factor through the real chain (issue 20.3): `ssomw emergency
enrol` as an admin runs it, codes made by pyotp as an authenticator app makes them, posted
through nginx; right, wrong and replayed codes, recovery codes, `reset-factor`, and every
failure the same page, byte for byte apart from the CSRF token (and the name typed, which the
form keeps)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
import requests
from argon2 import PasswordHasher

from ssomw.store import open_store
from ssomw.telemetry import audit
from tests.support.signin import parse_forms

from .conftest import API, start_stack
from .stack import REPO, Stack

PATH = "/sso/break-glass-5e2b8c41d7a9f036"
PASSWORD = "emergency-password-1"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


class TotpStack(Stack):
    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        config["emergency"] = {
            "enabled": True, "path": PATH, "allowed_groups": ["sso-admins"],
            "credentials": "local", "second_factor": "totp", "max_lifetime": "20m",
            "local_users": [{"username": u, "hash": CHEAP.hash(PASSWORD)}
                            for u in ("root", "clerk")],
            "throttle": {"max_failures": 6, "max_failures_per_address": 6, "window": 600,
                         "lockout": 600, "base_delay": 0, "max_delay": 0}}
        return config


def ssomw(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    assert stack.gateway is not None
    return subprocess.run([str(REPO / ".venv/bin/ssomw"), *args, "-c",
                           str(stack.gateway.config_path)], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TotpStack]:
    s = start_stack(tmp_path_factory, "emergency-totp", TotpStack)
    assert ssomw(s, "groups", "add", "root", "sso-admins").returncode == 0
    yield s
    s.stop()


class Enrolled:
    """What `ssomw emergency enrol USER` printed: the authenticator's TOTP, recovery codes."""

    def __init__(self, printed: str) -> None:
        self.uri = re.search(r"^(otpauth://totp/\S+)$", printed, re.M).group(1)
        self.totp = pyotp.TOTP(re.search(r"secret=([A-Z2-7]+)", self.uri).group(1))
        self.recovery = re.findall(r"^  (\d-[0-9A-Z]{5}-[0-9A-Z]{5})$", printed, re.M)

    def code(self, offset: float = 0) -> str:
        return self.totp.at(time.time() + offset)


def enrol(stack: Stack, user: str) -> Enrolled:
    ssomw(stack, "emergency", "reset-factor", user)
    result = ssomw(stack, "emergency", "enrol", user)
    assert result.returncode == 0, result.stderr
    assert "▀" in result.stdout or "▄" in result.stdout  # the QR code, in the terminal
    return Enrolled(result.stdout)


def attempt(stack: Stack, username: str, password: str, code: str,
            browser: requests.Session | None = None) -> requests.Response:
    browser = browser or requests.Session()
    page = browser.get(stack.url("app-a", PATH), params={"rd": stack.url("app-a", "/")})
    [form] = [f for f in parse_forms(page.text) if "code" in f.fields]
    return browser.post(stack.url("app-a", PATH), allow_redirects=False, data={
        **form.fields, "username": username, "password": password, "code": code})


def reason(stack: Stack) -> str | None:
    store = open_store(stack.config()["store"])
    try:
        return audit.query(store, event_type="emergency_login")[-1].get("reason")
    finally:
        store.close()


def unban(stack: Stack) -> None:
    assert ssomw(stack, "emergency", "unban", "--all").returncode == 0


def another(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_right_code_is_accepted_once(stack: TotpStack):
    unban(stack)
    root = enrol(stack, "root")
    code = root.code()
    admin = requests.Session()
    response = attempt(stack, "root", PASSWORD, code, admin)
    assert response.status_code == 302, reason(stack)
    seen = admin.get(stack.url("app-a", "/x"), headers=API).json()["headers"]
    assert seen["X-Auth-Request-User"] == "root"
    assert seen["X-Auth-Request-Auth-Method"] == "emergency"
    replay = attempt(stack, "root", PASSWORD, code)
    assert replay.status_code == 401 and reason(stack) == "code replayed"
    assert "ssomw_session" not in replay.headers.get("Set-Cookie", "")
    wrong = attempt(stack, "root", PASSWORD, another(root.code()))
    assert wrong.status_code == 401 and reason(stack) == "wrong code"


def test_recovery_codes_work_once_each(stack: TotpStack):
    unban(stack)
    root = enrol(stack, "root")
    assert len(root.recovery) == 10
    assert attempt(stack, "root", PASSWORD, root.recovery[4]).status_code == 302
    again = attempt(stack, "root", PASSWORD, root.recovery[4])
    assert again.status_code == 401 and reason(stack) == "recovery code already used"
    assert attempt(stack, "root", PASSWORD, root.recovery[5].lower()).status_code == 302


def test_reset_factor_for_a_lost_device(stack: TotpStack):
    unban(stack)
    root = enrol(stack, "root")
    again = ssomw(stack, "emergency", "enrol", "root")
    assert again.returncode == 1 and "reset-factor" in again.stderr
    reset = ssomw(stack, "emergency", "reset-factor", "root")
    assert reset.returncode == 0 and "removed" in reset.stdout
    refused = attempt(stack, "root", PASSWORD, root.code())
    assert refused.status_code == 401 and reason(stack) == "no second factor enrolled"


def test_every_failure_is_the_same_page(stack: TotpStack):
    """Byte for byte, apart from the CSRF token and the name typed (which the form keeps);
    the audit log has each real reason."""
    unban(stack)
    root, clerk = enrol(stack, "root"), enrol(stack, "clerk")
    spent = root.code()
    assert attempt(stack, "root", PASSWORD, spent).status_code == 302
    cases = [
        ("root", "wrong-password", root.code(), "bad credentials"),
        ("nobody", PASSWORD, root.code(), "bad credentials"),
        ("root", PASSWORD, another(root.code()), "wrong code"),
        ("root", PASSWORD, spent, "code replayed"),
        ("root", PASSWORD, "", "no code"),
        ("clerk", PASSWORD, clerk.code(), "not in allowed_groups"),
    ]
    pages = []
    for username, password, code, why in cases:
        response = attempt(stack, username, password, code)
        assert response.status_code == 401 and reason(stack) == why, (username, why)
        pages.append((username, response))
    # Six failures from this address: it is locked now, the right password and code too.
    locked = attempt(stack, "root", PASSWORD, root.code(30))
    assert locked.status_code == 401 and reason(stack) == "throttled"
    pages.append(("root", locked))

    def masked(username: str, response: requests.Response) -> str:
        text = re.sub(r'name="csrf" value="[^"]+"', 'name="csrf" value=""', response.text)
        return text.replace(f'value="{username}"', 'value="NAME"')

    assert len({masked(u, r) for u, r in pages}) == 1
    assert len({tuple(sorted((k, v) for k, v in r.headers.items()
                             if k.lower() not in ("date", "set-cookie", "content-length",
                                                  "x-request-id")))
                for _, r in pages}) == 1
    unban(stack)
