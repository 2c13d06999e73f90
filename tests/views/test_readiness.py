"""Readiness reflects writability, with one write probe per interval (issue 17 item 6); the
full-disk case through the real chain is in tests/e2e/test_faults.py."""

from __future__ import annotations

from ssomw.store.base import StoreUnavailable
from ssomw.views.health import PROBE_NAMESPACE, WriteProbe


class Store:
    def __init__(self) -> None:
        self.writes = 0
        self.refuse = False

    def kv_set(self, namespace: str, key: str, value: bytes, ttl: float | None) -> None:
        assert namespace == PROBE_NAMESPACE and ttl
        self.writes += 1
        if self.refuse:
            raise StoreUnavailable("disk full")


def test_one_write_per_interval_and_the_result_kept_in_between() -> None:
    store, now = Store(), [100.0]
    probe = WriteProbe(store, interval=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert [probe.writable() for _ in range(50)] == [True] * 50 and store.writes == 1
    store.refuse = True
    now[0] += 4.9
    assert probe.writable() and store.writes == 1  # the last result stands until the interval
    now[0] += 0.1
    assert not probe.writable() and not probe.writable() and store.writes == 2
    store.refuse = False
    now[0] += 5.0
    assert probe.writable() and store.writes == 3  # healed by itself
