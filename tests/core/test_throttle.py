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
    assert keys == ["addr:203.0.113.9", "user:root-admin"]
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



class ClockedKv:
    """The store's key/value operations with TTLs on the test's clock (the store contract
    suite checks the real backends' TTLs): lockout ends are tested without waiting."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.data: dict[tuple[str, str], tuple[bytes, float]] = {}

    def _live(self, namespace: str, key: str) -> bytes | None:
        value, expires = self.data.get((namespace, key), (None, 0.0))
        return value if value is not None and self.clock() < expires else None

    def kv_get(self, namespace: str, key: str) -> bytes | None:
        return self._live(namespace, key)

    def kv_set(self, namespace: str, key: str, value: bytes, ttl: float | None) -> None:
        self.data[(namespace, key)] = (value, self.clock() + (ttl or float("inf")))

    def kv_add(self, namespace: str, key: str, value: bytes, ttl: float | None) -> bool:
        if self._live(namespace, key) is not None:
            return False
        self.kv_set(namespace, key, value, ttl)
        return True

    def kv_delete(self, namespace: str, key: str) -> None:
        self.data.pop((namespace, key), None)

    def incr(self, namespace: str, key: str, ttl: float) -> int:
        current = self._live(namespace, key)
        if current is None:
            self.kv_set(namespace, key, b"1", ttl)
            return 1
        _, expires = self.data[(namespace, key)]
        self.data[(namespace, key)] = (str(int(current) + 1).encode(), expires)
        return int(current) + 1

    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, bytes]]:
        return [(k, v) for (ns, k), (v, _) in self.data.items()
                if ns == namespace and k.startswith(prefix) and self._live(ns, k) is not None]


def clocked(**settings: float) -> tuple[Throttle, Clock]:
    clock = Clock()
    values = {"max_failures": 5, "window": 900, "lockout": 900, "base_delay": 1,
              "max_delay": 8, "max_failures_per_address": 3, **settings}
    return Throttle(ClockedKv(clock), ThrottleSettings(**values), clock), clock


def try_once(t: Throttle, user: str, address: str, right: bool = False) -> bool:
    """One attempt as the emergency form makes it; True when it was judged (not refused)."""
    reservation = t.reserve(throttle_keys(user, address))
    t.settle(reservation, succeeded=right and not reservation.refused)
    return not reservation.refused


def test_reserved_attempts_follow_the_same_rules() -> None:
    """reserve() counts before judging: delays, then the lock at the key's limit."""
    t, clock = clocked(max_failures=3, max_failures_per_address=None, lockout=300,
                       base_delay=1, max_delay=2)
    keys = throttle_keys("u", "192.0.2.7")
    first = t.reserve(keys)
    assert not first.refused and dict(first.counts) == {"user:u": 1, "addr:192.0.2.7": 1}
    t.settle(first, succeeded=False)
    too_soon = t.reserve(keys)
    assert too_soon.verdict == Verdict(locked=False, too_soon=True)
    assert too_soon.counts == (("addr:192.0.2.7", 2),)  # refused at the address: user untouched
    t.settle(too_soon, succeeded=False)
    clock.now += 2.01
    third = t.reserve(keys)  # the 3rd at the address: judged, and it holds the lock
    assert not third.refused and third.locks == ("addr:192.0.2.7",)
    t.settle(third, succeeded=False)
    clock.now += 2.01
    locked = t.reserve(keys)
    assert locked.verdict == Verdict(locked=True, too_soon=False) and locked.counts == ()
    clock.now += 300
    released = t.reserve(keys)  # lock over: one more attempt is judged, and it succeeds
    assert not released.refused
    t.settle(released, succeeded=True)
    assert t.bans() == [] and not t.reserve(keys).refused


def test_a_lockout_ends_on_time_however_many_attempts_come_during_it() -> None:
    """Issue 17 item 5: refused attempts used to renew the lock, so anyone knowing the path
    and a name could keep that admin out for ever. Now the end is fixed when it is taken."""
    t, clock = clocked(max_failures=3, max_failures_per_address=3, lockout=900,
                       base_delay=0, max_delay=0)
    start = clock.now
    for n in range(3):
        assert try_once(t, "admin", f"198.51.100.{n}")  # three addresses: the user is locked
    [(_, ban)] = [b for b in t.bans() if b[0] == "user:admin"]
    assert ban["until"] == start + 900
    while clock.now < start + 899:  # an attempt a second for the whole lockout, refused
        assert not try_once(t, "admin", f"203.0.113.{int(clock.now) % 200}", right=True)
        clock.now += 1
    clock.now = start + 900.01
    assert try_once(t, "admin", "192.0.2.1", right=True)  # in, at the lock's first end


def test_one_address_is_stopped_before_it_can_lock_the_user_out() -> None:
    """The address limit bites first, and what it refuses never counts on the user."""
    t, clock = clocked()
    judged = 0
    for _ in range(200):  # an attacker at 10 attempts a second for 20 s, then every minute
        judged += try_once(t, "admin", "203.0.113.66")
        clock.now += 0.1
    for _ in range(60):
        judged += try_once(t, "admin", "203.0.113.66")
        clock.now += 60
    assert judged <= 3 * (1 + 3620 // 900)  # its own limit, once per window and lockout
    assert not any(key.startswith("user:") for key, _ in t.bans())
    assert try_once(t, "admin", "192.0.2.10", right=True)  # the real admin gets in at once


def test_a_lockout_is_not_piled_onto_by_the_attempts_it_refused() -> None:
    """After the lock ends the count starts where the judged attempts left it, not higher:
    refused attempts reached no key, so one more failure is needed before the next lock."""
    t, clock = clocked(max_failures=2, max_failures_per_address=10, lockout=60, window=30,
                       base_delay=0, max_delay=0)
    assert try_once(t, "admin", "192.0.2.1") and try_once(t, "admin", "192.0.2.2")
    for n in range(50):
        assert not try_once(t, "admin", f"192.0.2.{n + 3}")
    clock.now += 60.01
    assert try_once(t, "admin", "192.0.2.99", right=True)


def test_no_delay_still_bounds_the_attempts(tmp_path: Path):
    store = SqliteStore(str(tmp_path / "t.db"))
    t = Throttle(store, ThrottleSettings(max_failures=2, window=60, lockout=60, base_delay=0,
                                         max_delay=0), time.time)
    verdicts = [t.reserve(["k"]) for _ in range(4)]  # none settled yet: all in flight
    assert [v.refused for v in verdicts] == [False, False, True, True]
    store.close()
