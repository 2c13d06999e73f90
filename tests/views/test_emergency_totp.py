"""The emergency form with ``second_factor: totp`` in-process (issue 20.3): every failure
costs the same work — one password verification, one enrolment read, the code compared, and
one more argon2 verification for a code shaped like a recovery code — and gets the same page;
the audit log has the real reason. The real chain: tests/e2e/test_emergency_totp.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import yaml
from argon2 import PasswordHasher
from werkzeug.test import Client

import ssomw.identity.emergency as emergency
import ssomw.identity.second_factor as second_factor
from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.identity.second_factor import ENROLMENTS, SecondFactors
from ssomw.identity.users import set_local_groups
from ssomw.telemetry import audit
from ssomw.wsgi import Gateway

PATH = "/sso/break-glass-0123456789abcdef"
HOST = "http://app.example.com"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
KEY = "k" * 40


class Built:
    def __init__(self, tmp_path: Path, throttle: dict) -> None:
        config = from_text(yaml.safe_dump({
            "store": {"path": str(tmp_path / "s.db")},
            "session": {"secret_keys": [KEY], "secure": False},
            "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                           "client_secret": "s"}],
            "apps": [{"id": "app", "hosts": ["app.example.com"]}],
            "emergency": {"enabled": True, "path": PATH, "allowed_groups": ["sso-admins"],
                          "credentials": "local", "throttle": throttle,
                          "second_factor": "totp",
                          "local_users": [{"username": "admin", "hash": CHEAP.hash("right")},
                                          {"username": "clerk", "hash": CHEAP.hash("right")}]},
        }))
        self.runtime = Runtime.build(config)
        set_local_groups(self.runtime.store, "admin", ["sso-admins"])
        self.client = Client(Gateway(config, self.runtime))
        factors = SecondFactors(self.runtime.store, [KEY])
        self.admin = factors.enrol("admin")
        self.clerk = factors.enrol("clerk")

    def code(self, enrolment, offset: float = 0.0) -> str:  # noqa: ANN001
        totp = pyotp.TOTP(re.search(r"secret=([A-Z2-7]+)", enrolment.uri).group(1))
        return totp.at(self.runtime.sessions.clock() + offset)

    def post(self, username: str, password: str, code: str) -> tuple[int, str]:
        page = self.client.get(PATH, base_url=HOST).get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        response = self.client.post(PATH, base_url=HOST, data={
            "csrf": csrf, "username": username, "password": password, "code": code})
        return response.status_code, response.get_data(as_text=True)

    def reason(self) -> str | None:
        return audit.query(self.runtime.store, event_type="emergency_login")[-1].get("reason")


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """What each attempt did: argon2 verifications (password, recovery code) and enrolment
    reads."""
    seen: dict[str, list[str]] = {"password": [], "recovery": [], "enrolment": []}

    class Counting(PasswordHasher):
        def __init__(self, kind: str, base: PasswordHasher) -> None:
            super().__init__(base.time_cost, base.memory_cost, base.parallelism,
                             base.hash_len, base.salt_len, type=base.type)
            self.kind = kind

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            seen[self.kind].append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(emergency, "HASHER", Counting("password", emergency.HASHER))
    monkeypatch.setattr(second_factor, "RECOVERY_HASHER",
                        Counting("recovery", second_factor.RECOVERY_HASHER))
    real = SecondFactors._record

    def reading(self, key: str):  # noqa: ANN001, ANN202
        seen["enrolment"].append(key)
        return real(self, key)

    monkeypatch.setattr(SecondFactors, "_record", reading)
    yield seen
    for kinds in seen.values():
        kinds.clear()


def reset(work: dict[str, list[str]]) -> None:
    for kinds in work.values():
        kinds.clear()


@pytest.mark.parametrize("username, password, code, reason", [
    pytest.param("admin", "right", "right", None, id="success"),
    pytest.param("admin", "wrong", "right", "bad credentials", id="wrong-password-right-code"),
    pytest.param("nobody", "right", "123456", "bad credentials", id="unknown-user"),
    pytest.param("admin", "right", "000000", "wrong code", id="wrong-code"),
    pytest.param("admin", "right", "", "no code", id="no-code"),
    pytest.param("clerk", "right", "clerk", "not in allowed_groups", id="outside-the-groups"),
])
def test_every_attempt_costs_the_same_work(tmp_path: Path, work, username: str,
                                           password: str, code: str, reason: str | None):
    built = Built(tmp_path, {})
    code = {"right": built.code(built.admin), "clerk": built.code(built.clerk)}.get(code, code)
    if code == "000000" and built.code(built.admin) == code:
        code = "000001"
    reset(work)
    status, _ = built.post(username, password, code)
    assert status == (302 if reason is None else 401)
    assert (len(work["password"]), len(work["recovery"]), len(work["enrolment"])) == (1, 0, 1)
    assert built.reason() == reason


@pytest.mark.parametrize("username, password, which, reason", [
    pytest.param("admin", "right", 0, None, id="success"),
    pytest.param("admin", "wrong", 1, "bad credentials", id="wrong-password"),
    pytest.param("nobody", "right", 2, "bad credentials", id="unknown-user"),
    pytest.param("admin", "right", None, "wrong recovery code", id="wrong-recovery-code"),
])
def test_a_recovery_code_costs_one_more_verification_whoever_asks(
        tmp_path: Path, work, username: str, password: str, which: int | None,
        reason: str | None):
    built = Built(tmp_path, {})
    code = built.admin.recovery_codes[which] if which is not None else "4-ABCDE-FGHJK"
    reset(work)
    status, _ = built.post(username, password, code)
    assert status == (302 if reason is None else 401)
    assert (len(work["password"]), len(work["recovery"]), len(work["enrolment"])) == (1, 1, 1)
    assert built.reason() == reason


def test_replays_are_refused_and_wrong_codes_count_in_the_throttle(tmp_path: Path, work):
    built = Built(tmp_path, {"max_failures_per_address": 2, "base_delay": 0, "lockout": 600})
    code = built.code(built.admin)
    assert built.post("admin", "right", code)[0] == 302
    assert built.post("admin", "right", code)[0] == 401
    assert built.reason() == "code replayed"
    assert built.post("admin", "right", "000000" if code != "000000" else "111111")[0] == 401
    reset(work)
    # Two failures locked the address: the right password and a fresh code are refused now,
    # after the same work, and the code is not spent.
    fresh = built.code(built.admin, 30)
    assert built.post("admin", "right", fresh)[0] == 401
    assert built.reason() == "throttled"
    assert (len(work["password"]), len(work["recovery"]), len(work["enrolment"])) == (1, 0, 1)
    assert SecondFactors(built.runtime.store, [KEY]).check("admin", fresh, spend=False).ok


def test_failures_are_byte_identical_apart_from_the_csrf_token(tmp_path: Path):
    built = Built(tmp_path, {"max_failures": 100, "max_failures_per_address": 100,
                             "base_delay": 0})
    wrong = "000000" if built.code(built.admin) != "000000" else "111111"
    replayed = built.code(built.admin)
    assert built.post("admin", "right", replayed)[0] == 302
    bodies = [built.post(*attempt)[1] for attempt in (
        ("admin", "wrong", built.code(built.admin)), ("admin", "right", wrong),
        ("admin", "right", replayed), ("admin", "right", ""),
        ("admin", "right", "4-ABCDE-FGHJK"))]
    unmasked = {re.sub(r'name="csrf" value="[^"]+"', "", body) for body in bodies}
    assert len(unmasked) == 1
    assert 'autocomplete="one-time-code"' in bodies[0]
    assert built.runtime.store.kv_get(ENROLMENTS, "admin") is not None
