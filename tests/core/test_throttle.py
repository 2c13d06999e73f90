"""Throttling: growing delays as "not before" times, lockout, release, and clearing bans."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ssomw.core.throttle import Throttle, ThrottleSettings, throttle_keys
from ssomw.store.sqlite import SqliteStore

SETTINGS = ThrottleSettings(max_failures=3, window=600, lockout=300, base_delay=1,
                            max_delay=4)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def throttle(tmp_path: Path):
    store = SqliteStore(str(tmp_path / "t.db"))
    clock = Clock()
    yield Throttle(store, SETTINGS, clock), clock
    store.close()


@pytest.mark.parametrize("failures, delay", [
    pytest.param(0, 0.0, id="none"), pytest.param(1, 1.0, id="first"),
    pytest.param(2, 2.0, id="doubles"), pytest.param(3, 4.0, id="capped"),
    pytest.param(10, 4.0, id="stays-capped"),
])
def test_delay_grows_and_is_capped(throttle, failures, delay):
    assert throttle[0].delay_for(failures) == delay


def test_attempts_too_soon_then_lockout_then_clear(throttle):
    t, clock = throttle
    keys = throttle_keys("Root-Admin ", "203.0.113.9")
    assert keys == ["user:root-admin", "addr:203.0.113.9"]
    assert not t.check(keys).refused
    t.failed(keys)
    assert t.check(keys).too_soon
    clock.now += 1.01
    assert not t.check(keys).refused
    t.failed(keys)
    t.failed(keys)
    clock.now += 10
    verdict = t.check(keys)
    assert verdict.locked and verdict.refused
    assert {key for key, _ in t.bans()} == set(keys)
    assert t.clear("addr:") == 1
    assert t.check(["addr:203.0.113.9"]).refused is False
    assert t.check(["user:root-admin"]).locked


def test_success_resets_the_counters_but_not_a_lock(throttle):
    t, clock = throttle
    keys = throttle_keys("u", "198.51.100.1")
    t.failed(keys)
    clock.now += 2
    t.succeeded(keys)
    assert not t.check(keys).refused
    assert t.delay_for(0) == 0
