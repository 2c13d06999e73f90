"""Throttling on every backend: parallel attempts on several instances are judged at most as
often as the rules allow (each attempt is counted atomically before it is judged)."""

from __future__ import annotations

import time

import pytest

from ssomw.core.throttle import Throttle, ThrottleSettings, throttle_keys
from tests.store.conftest import Backend
from tests.store.test_contract_kv import race

PARALLEL = 12


@pytest.mark.parametrize(("settings", "allowed", "locked"), [
    # A delay far longer than the race lasts on the slowest host: every other attempt of the
    # twelve comes inside it (with 1 s, a busy machine spread them wider and judged two).
    pytest.param(ThrottleSettings(max_failures=5, window=60, lockout=60, base_delay=30,
                                  max_delay=60), 1, 0, id="growing-delay"),
    pytest.param(ThrottleSettings(max_failures=3, window=60, lockout=60, base_delay=0,
                                  max_delay=0), 3, 2, id="lockout-only"),
])
def test_parallel_attempts_are_judged_at_most_as_often_as_allowed(
    backend: Backend, settings: ThrottleSettings, allowed: int, locked: int
) -> None:
    keys = throttle_keys("root-admin", "203.0.113.5")

    def attempt(store) -> bool:  # noqa: ANN001
        throttle = Throttle(store, settings, time.time)
        reservation = throttle.reserve(keys)
        time.sleep(0.05)  # the password check, while the others arrive
        throttle.settle(reservation, succeeded=False)
        return not reservation.refused

    stores = [backend.open() for _ in range(PARALLEL)]
    judged = sum(race(stores, attempt))
    assert 1 <= judged <= allowed  # check-then-count judged up to all twelve
    # a refused attempt takes no lock: only the judged ones that reached a key's limit did
    assert len(Throttle(stores[0], settings, time.time).bans()) == locked


def test_a_success_gives_back_the_lock_it_took(backend: Backend) -> None:
    settings = ThrottleSettings(max_failures=1, window=60, lockout=60, base_delay=0,
                                max_delay=0)
    throttle = Throttle(backend.open(), settings, time.time)
    reservation = throttle.reserve(["user:a"])
    assert not reservation.refused and reservation.locks == ("user:a",)
    assert throttle.reserve(["user:a"]).verdict.locked  # held while being judged
    throttle.settle(reservation, succeeded=True)
    assert throttle.bans() == [] and not throttle.reserve(["user:a"]).refused
