"""Throttling: growing delays as "not before" times, lockout, release, and clearing bans."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ssomw.core.throttle import Throttle, ThrottleSettings, Verdict, throttle_keys
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



def test_reserved_attempts_follow_the_same_rules(tmp_path: Path):
    """reserve() counts before judging; a refused attempt counts as a failure, as before.
    Gates and locks are store TTLs (the store's clock), so this test waits in real time."""
    store = SqliteStore(str(tmp_path / "t.db"))
    t = Throttle(store, ThrottleSettings(max_failures=3, window=60, lockout=0.4,
                                         base_delay=0.1, max_delay=0.2), time.time)
    keys = throttle_keys("u", "192.0.2.7")
    first = t.reserve(keys)
    assert not first.refused and dict(first.counts) == {"user:u": 1, "addr:192.0.2.7": 1}
    t.settle(first, succeeded=False)
    too_soon = t.reserve(keys)
    assert too_soon.verdict == Verdict(locked=False, too_soon=True)
    t.settle(too_soon, succeeded=False)
    time.sleep(0.25)  # the refused attempt was the 2nd failure: its delay is 0.2 s
    third = t.reserve(keys)  # the 3rd of max_failures=3: judged, and it holds the lock
    assert not third.refused and third.locks == tuple(keys)
    t.settle(third, succeeded=False)
    time.sleep(0.25)
    locked = t.reserve(keys)
    assert locked.verdict == Verdict(locked=True, too_soon=False)
    t.settle(locked, succeeded=False)  # counts, and renews the lock (as before reservations)
    time.sleep(0.45)
    released = t.reserve(keys)  # lock over: one more attempt is judged, and it succeeds
    assert not released.refused
    t.settle(released, succeeded=True)
    assert t.bans() == [] and not t.reserve(keys).refused
    store.close()


def test_no_delay_still_bounds_the_attempts(tmp_path: Path):
    store = SqliteStore(str(tmp_path / "t.db"))
    t = Throttle(store, ThrottleSettings(max_failures=2, window=60, lockout=60, base_delay=0,
                                         max_delay=0), time.time)
    verdicts = [t.reserve(["k"]) for _ in range(4)]  # none settled yet: all in flight
    assert [v.refused for v in verdicts] == [False, False, True, True]
    store.close()
