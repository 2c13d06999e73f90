"""Brute-force throttling for the emergency login: growing delays, then a temporary lockout.

Knows nothing about HTTP: the store (for counters shared by every instance, surviving
restarts) and the clock are injected. Each attempt is judged on several keys at once (the
username and the client address); the strictest wins.

Per key, within ``window`` seconds: after the n-th failure the next attempt is refused unless
it comes at least ``min(base_delay * 2**(n-1), max_delay)`` seconds later, and
``max_failures`` failures lock the key for ``lockout`` seconds. A refused attempt (too soon, or
locked) fails without the password even being checked — the right password too — and looks
exactly like any other failure from outside. Delays are enforced as "not before" times rather
than by sleeping, so an attacker cannot tie up the gateway's workers with slow answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

COUNTERS = "throttle-failures"
LOCKS = "throttle-locks"
NOT_BEFORE = "throttle-not-before"


class KeyValue(Protocol):
    def kv_get(self, namespace: str, key: str) -> bytes | None: ...
    def kv_set(self, namespace: str, key: str, value: bytes, ttl: float | None) -> None: ...
    def kv_delete(self, namespace: str, key: str) -> None: ...
    def incr(self, namespace: str, key: str, ttl: float) -> int: ...
    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class ThrottleSettings:
    max_failures: int = 5
    window: float = 900.0
    lockout: float = 900.0
    base_delay: float = 1.0
    max_delay: float = 8.0

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> ThrottleSettings:
        return cls(**{k: section[k] for k in
                      ("max_failures", "window", "lockout", "base_delay", "max_delay")})


@dataclass(frozen=True)
class Verdict:
    locked: bool          # lockout in force
    too_soon: bool        # within the growing delay after the last failure

    @property
    def refused(self) -> bool:
        return self.locked or self.too_soon


class Throttle:
    def __init__(self, store: KeyValue, settings: ThrottleSettings, clock: Any):
        self.store = store
        self.settings = settings
        self.clock = clock

    def check(self, keys: Sequence[str]) -> Verdict:
        """Before verifying credentials: may this attempt be judged at all?"""
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

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        for key in keys:
            count = self.store.incr(COUNTERS, key, self.settings.window)
            not_before = now + self.delay_for(count)
            self.store.kv_set(NOT_BEFORE, key, repr(not_before).encode(), self.settings.window)
            if count >= self.settings.max_failures:
                record = json.dumps({"since": now, "until": now + self.settings.lockout,
                                     "failures": count}).encode()
                self.store.kv_set(LOCKS, key, record, self.settings.lockout)

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
    return [f"user:{username.strip().lower()[:256]}", f"addr:{address}"]
