"""Brute-force throttling for the emergency login: growing delays, then a temporary lockout.

Knows nothing about HTTP: the store (for counters shared by every instance, surviving
restarts) and the clock (which stamps the records; delays and locks end as store TTLs) are
injected. Each attempt is judged on several keys in order — the client address first, then
the username — and the first key that refuses it decides.

Per key, within ``window`` seconds: after the n-th failure the next attempt is refused unless
it comes at least ``min(base_delay * 2**(n-1), max_delay)`` seconds later, and the key's limit
of failures (``max_failures_per_address`` for an address, ``max_failures`` for a user) locks
it for ``lockout`` seconds. A refused attempt (too soon, or locked) fails without the password
even being checked — the right password too — and looks exactly like any other failure from
outside. Delays are enforced as "not before" times rather than by sleeping, so an attacker
cannot tie up the gateway's workers with slow answers.

Lockout must not become a denial of service, so:

* a lock ends ``lockout`` seconds after it was taken, whatever comes later: it is only ever
  created (``kv_add``), never renewed, and a refused attempt counts on no key it did not
  reach — so attempts during a lock neither extend it nor pile up for the next one;
* an attempt refused at the address is not counted on the username, so one address hammering
  a name is stopped at its own, lower limit before it can lock the user out; only failures
  from several addresses together can (which is what the user lock is for).

:meth:`Throttle.reserve` counts an attempt *before* its password is checked, with atomic store
operations only, so a burst of parallel attempts cannot all pass a check made before any of
them failed: the counter (``incr``) numbers the attempt, the "not before" gate is taken with
``kv_add`` (one winner per delay), and from the key's limit on the lock itself is taken with
``kv_add`` (one winner per lockout). :meth:`Throttle.settle` then clears the keys on success
(and gives back the locks the attempt took); a failure has already been counted. :meth:`check`
and :meth:`failed` remain for callers that only bound noise (the admin API's token throttle).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

ADDRESS = "addr:"
COUNTERS = "throttle-failures"
LOCKS = "throttle-locks"
NOT_BEFORE = "throttle-not-before"


class KeyValue(Protocol):
    def kv_get(self, namespace: str, key: str) -> bytes | None: ...
    def kv_set(self, namespace: str, key: str, value: bytes, ttl: float | None) -> None: ...
    def kv_add(self, namespace: str, key: str, value: bytes, ttl: float | None) -> bool: ...
    def kv_delete(self, namespace: str, key: str) -> None: ...
    def incr(self, namespace: str, key: str, ttl: float) -> int: ...
    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class ThrottleSettings:
    """From ``emergency.throttle`` (defaults in the config schema only)."""

    max_failures: int
    window: float
    lockout: float
    base_delay: float
    max_delay: float
    max_failures_per_address: int | None = None  # None: max_failures

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> ThrottleSettings:
        return cls(**{k: section[k] for k in
                      ("max_failures", "window", "lockout", "base_delay", "max_delay",
                       "max_failures_per_address")})

    def limit(self, key: str) -> int:
        """Failures that lock ``key``: an address's limit bites before a user's."""
        if key.startswith(ADDRESS) and self.max_failures_per_address is not None:
            return self.max_failures_per_address
        return self.max_failures


@dataclass(frozen=True)
class Verdict:
    locked: bool          # lockout in force
    too_soon: bool        # within the growing delay after the last failure

    @property
    def refused(self) -> bool:
        return self.locked or self.too_soon


@dataclass(frozen=True)
class Reservation:
    """One attempt, counted before it is judged: its number per key and the verdict."""

    counts: tuple[tuple[str, int], ...]  # (key, this attempt's number within the window)
    verdict: Verdict
    locks: tuple[str, ...] = ()  # keys whose lock this attempt took (given back on success)

    @property
    def refused(self) -> bool:
        return self.verdict.refused


class Throttle:
    def __init__(self, store: KeyValue, settings: ThrottleSettings, clock: Any):
        self.store = store
        self.settings = settings
        self.clock = clock

    def check(self, keys: Sequence[str]) -> Verdict:
        """May an attempt be judged? A read only: parallel attempts all see the same answer,
        so where each guess matters use :meth:`reserve` instead."""
        now = self.clock()
        locked = any(self.store.kv_get(LOCKS, key) is not None for key in keys)
        too_soon = False
        for key in keys:
            raw = self.store.kv_get(NOT_BEFORE, key)
            too_soon = too_soon or (raw is not None and now < float(raw))
        return Verdict(locked, too_soon)

    def delay_for(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        s = self.settings
        return min(s.base_delay * 2 ** (failures - 1), s.max_delay)

    def reserve(self, keys: Sequence[str]) -> Reservation:
        """Count this attempt on each key in order, atomically, and judge it from that count;
        the first key that refuses it ends the walk (later keys never see it).

        Of N parallel attempts on a key, one takes the "not before" gate (the others are too
        soon), and once the count reaches the key's limit one takes the lock (the others are
        locked out): never more than the sequential rules would have judged.
        """
        s, now = self.settings, self.clock()
        counts: list[tuple[str, int]] = []
        locks: list[str] = []
        locked = too_soon = False
        for key in keys:
            if self.store.kv_get(LOCKS, key) is not None:
                locked = True  # not counted: a lock is neither renewed nor piled onto
                break
            count = self.store.incr(COUNTERS, key, s.window)
            counts.append((key, count))
            delay = self.delay_for(count)
            if delay > 0 and not self.store.kv_add(NOT_BEFORE, key, repr(now + delay).encode(),
                                                   delay):
                too_soon = True
                break
            if count >= s.limit(key) and s.lockout > 0:
                if not self.store.kv_add(LOCKS, key, self._lock_record(now, count), s.lockout):
                    locked = True
                    break
                locks.append(key)  # held while this attempt is judged; kept if it fails
        return Reservation(tuple(counts), Verdict(locked, too_soon), tuple(locks))

    def settle(self, reservation: Reservation, succeeded: bool) -> None:
        """After the verdict: a success clears the keys it reached (and gives back the locks
        it took). A failure was counted by :meth:`reserve` already, its delay and any lock
        taken there: nothing is renewed now."""
        if succeeded:
            self.succeeded(key for key, _ in reservation.counts)
            for key in reservation.locks:
                self.store.kv_delete(LOCKS, key)

    def failed(self, keys: Iterable[str]) -> None:
        """Count a failure that was not reserved (callers using :meth:`check`)."""
        now = self.clock()
        for key in keys:
            self._record_failure(key, self.store.incr(COUNTERS, key, self.settings.window), now)

    def _record_failure(self, key: str, count: int, now: float) -> None:
        delay = self.delay_for(count)
        if delay > 0:
            self.store.kv_set(NOT_BEFORE, key, repr(now + delay).encode(), delay)
        if count >= self.settings.limit(key) and self.settings.lockout > 0:  # never renewed
            self.store.kv_add(LOCKS, key, self._lock_record(now, count), self.settings.lockout)

    def _lock_record(self, now: float, count: int) -> bytes:
        return json.dumps({"since": now, "until": now + self.settings.lockout,
                           "failures": count}).encode()

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.store.kv_delete(COUNTERS, key)
            self.store.kv_delete(NOT_BEFORE, key)

    def bans(self) -> list[tuple[str, dict[str, Any]]]:
        return [(key, json.loads(raw)) for key, raw in self.store.kv_items(LOCKS)]

    def clear(self, prefix: str = "") -> int:
        """Lift locks (and failure counts) whose key starts with ``prefix``; all when empty."""
        cleared = 0
        for namespace in (LOCKS, COUNTERS, NOT_BEFORE):
            for key, _ in self.store.kv_items(namespace, prefix):
                self.store.kv_delete(namespace, key)
                cleared += namespace == LOCKS
        return cleared


def throttle_keys(username: str, address: str) -> list[str]:
    """The keys of one attempt, the address first (see :meth:`Throttle.reserve`)."""
    return [f"{ADDRESS}{address}", f"user:{username.strip().lower()[:256]}"]
