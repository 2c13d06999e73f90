"""The emergency form in-process: every answer costs the same work, and parallel attempts are
counted before they are judged (issue 14 item 6). Local credentials; LDAP runs through the
real chain in tests/e2e/test_emergency.py."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from argon2 import PasswordHasher
from werkzeug.test import Client

import ssomw.identity.emergency as emergency
from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.identity.users import set_local_groups
from ssomw.telemetry import audit
from ssomw.wsgi import Gateway

PATH = "/sso/break-glass-0123456789abcdef"
HOST = "http://app.example.com"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def build(tmp_path: Path, throttle: dict) -> tuple[Client, Runtime]:
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                       "client_secret": "s"}],
        "apps": [{"id": "app", "hosts": ["app.example.com"]}],
        "emergency": {"enabled": True, "path": PATH, "allowed_groups": ["sso-admins"],
                      "credentials": "local", "throttle": throttle,
                      "local_users": [{"username": "admin", "hash": CHEAP.hash("right")},
                                      {"username": "clerk", "hash": CHEAP.hash("right")}]},
    }))
    runtime = Runtime.build(config)
    set_local_groups(runtime.store, "admin", ["sso-admins"])
    return Client(Gateway(config, runtime)), runtime


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The hashes verified, in order (each a full argon2 computation)."""
    seen: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            seen.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(emergency, "HASHER", Counting())
    yield seen


def post(client: Client, username: str, password: str) -> int:
    page = client.get(PATH, base_url=HOST).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    response = client.post(PATH, base_url=HOST, data={
        "csrf": csrf, "username": username, "password": password})
    return response.status_code


@pytest.mark.parametrize(("username", "password", "status", "reason"), [
    pytest.param("admin", "right", 302, None, id="success"),
    pytest.param("admin", "wrong", 401, "bad credentials", id="wrong-password"),
    pytest.param("nobody", "right", 401, "bad credentials", id="unknown-user"),
    pytest.param("admin", "", 401, "empty credentials", id="empty-password"),
    pytest.param("", "right", 401, "empty credentials", id="empty-user"),
    pytest.param("clerk", "right", 401, "not in allowed_groups", id="outside-the-groups"),
])
def test_every_attempt_costs_exactly_one_argon2_verification(
    tmp_path: Path, verifications: list[str], username: str, password: str, status: int,
    reason: str | None,
) -> None:
    client, runtime = build(tmp_path, {})
    assert post(client, username, password) == status
    assert len(verifications) == 1
    cost = PasswordHasher.from_parameters(
        emergency.local_parameters(runtime.config["emergency"]["local_users"]))
    assert not cost.check_needs_rehash(verifications[0])  # the users' parameters, not cheaper
    event = audit.query(runtime.store, event_type="emergency_login")[-1]
    assert event.get("reason") == reason


def test_a_throttled_attempt_costs_the_same_and_is_not_judged(
    tmp_path: Path, verifications: list[str]
) -> None:
    client, runtime = build(tmp_path, {"base_delay": 30})
    assert post(client, "admin", "wrong") == 401
    assert post(client, "admin", "right") == 401  # within the delay: refused unjudged
    assert len(verifications) == 2
    assert verifications[1] == emergency.dummy_hash(emergency.local_parameters(
        runtime.config["emergency"]["local_users"]))
    event = audit.query(runtime.store, event_type="emergency_login")[-1]
    assert event["reason"] == "throttled"


def test_the_dummy_hash_is_not_made_at_import() -> None:
    import subprocess
    import sys

    code = ("import ssomw.identity.emergency as e, argon2; "
            "argon2.PasswordHasher.hash = None; print(len(e._dummies))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "0", result.stderr


def test_parallel_posts_get_one_guess_judged(tmp_path: Path) -> None:
    """Check-then-count judged one guess per worker; a reservation judges one in all."""
    client, runtime = build(tmp_path, {"base_delay": 30, "max_failures": 10})
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def attempt() -> None:
        own = Client(client.application)
        page = own.get(PATH, base_url=HOST).get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        barrier.wait()
        statuses.append(own.post(PATH, base_url=HOST, data={
            "csrf": csrf, "username": "admin", "password": "wrong"}).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [401] * 8
    reasons = [e["reason"] for e in audit.query(runtime.store, event_type="emergency_login")]
    assert sorted(reasons) == ["bad credentials"] + ["throttled"] * 7
