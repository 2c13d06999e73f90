"""Key/value contract (login state, replay caches, counters, locks) for every backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ssomw.store import Store
from tests.store.conftest import Backend


def race(stores: list[Store], action: Callable[[Store], Any]) -> list[Any]:
    """Run ``action`` once per store, all threads released at the same moment."""
    barrier = threading.Barrier(len(stores))
    results: list[Any] = [None] * len(stores)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(stores[i])
        except BaseException as exc:  # a thread's exception must fail the test, not vanish
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_set_get_overwrite_delete(store: Store) -> None:
    assert store.kv_get("state", "k") is None
    store.kv_set("state", "k", b"\x00one\xff", 60)
    assert store.kv_get("state", "k") == b"\x00one\xff"
    store.kv_set("state", "k", b"two", 60)
    assert store.kv_get("state", "k") == b"two"
    store.kv_delete("state", "k")
    store.kv_delete("state", "k")
    assert store.kv_get("state", "k") is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(("ns1", "k"), ("ns2", "k"), id="namespaces"),
        pytest.param(("a:b", "c"), ("a", "b:c"), id="colon-in-namespace"),
    ],
)
def test_keys_are_distinct(store: Store, a: tuple[str, str], b: tuple[str, str]) -> None:
    store.kv_set(*a, b"A", 60)
    store.kv_set(*b, b"B", 60)
    assert (store.kv_get(*a), store.kv_get(*b)) == (b"A", b"B")


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """The condition, polled: an expiry is waited for, never assumed after a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.02)


def test_set_entry_expires(store: Store) -> None:
    store.kv_set("state", "kept", b"v", 60)  # presence, with no race against the TTL
    assert store.kv_get("state", "kept") == b"v"
    store.kv_set("state", "k", b"v", 0.2)
    wait_until(lambda: store.kv_get("state", "k") is None)
    assert store.kv_pop("state", "k") is None
    assert store.kv_get("state", "kept") == b"v"


def test_add_only_once_until_expiry(store: Store) -> None:
    assert store.kv_add("jti", "abc", b"1", 60) is True
    assert store.kv_add("jti", "abc", b"2", 60) is False
    assert store.kv_get("jti", "abc") == b"1"
    assert store.kv_add("jti", "short", b"1", 0.2) is True
    wait_until(lambda: store.kv_add("jti", "short", b"3", 60))
    assert store.kv_get("jti", "short") == b"3" and store.kv_add("jti", "short", b"4", 60) is False


def test_add_wins_once_across_instances(backend: Backend) -> None:
    stores = [backend.open() for _ in range(8)]
    results = race(stores, lambda s: s.kv_add("jti", "replayed", b"x", 60))
    assert results.count(True) == 1


def test_pop_is_one_time(store: Store) -> None:
    store.kv_set("login", "state1", b"payload", 60)
    assert store.kv_pop("login", "state1") == b"payload"
    assert store.kv_pop("login", "state1") is None
    assert store.kv_get("login", "state1") is None


def test_pop_hands_the_value_to_exactly_one_instance(backend: Backend) -> None:
    stores = [backend.open() for _ in range(8)]
    stores[0].kv_set("login", "state1", b"payload", 60)
    results = race(stores, lambda s: s.kv_pop("login", "state1"))
    assert sorted(results, key=bool) == [None] * 7 + [b"payload"]


def test_incr_counts_and_reads_back(store: Store) -> None:
    assert [store.incr("rate", "1.2.3.4", 60) for _ in range(3)] == [1, 2, 3]
    assert store.kv_get("rate", "1.2.3.4") == b"3"


def test_incr_ttl_is_fixed_at_creation(store: Store) -> None:
    assert store.incr("rate", "u", 0.4) == 1
    time.sleep(0.25)
    assert store.incr("rate", "u", 0.4) == 2  # does not push the expiry out
    time.sleep(0.25)
    assert store.incr("rate", "u", 0.4) == 1


def test_incr_is_atomic_across_instances(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)]
    race(stores, lambda s: [s.incr("rate", "shared", 60) for _ in range(25)])
    assert stores[0].kv_get("rate", "shared") == b"100"


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s, ttl: s.kv_set("state", "k", b"v", ttl), id="kv_set"),
        pytest.param(lambda s, ttl: s.kv_add("state", "k", b"v", ttl), id="kv_add"),
        pytest.param(lambda s, ttl: s.kv_set_many("state", {"k": b"v"}, ttl), id="kv_set_many"),
        pytest.param(lambda s, ttl: s.incr("state", "k", ttl), id="incr"),
    ],
)
@pytest.mark.parametrize(
    "ttl", [0, -1.0, float("inf"), float("nan")], ids=["zero", "negative", "inf", "nan"]
)
def test_bad_ttl_is_refused_and_nothing_written(
    store: Store, write: Callable[[Store, float], Any], ttl: float
) -> None:
    """A TTL that is not a positive number is a bug; None, not infinity, means 'never'."""
    with pytest.raises(ValueError):
        write(store, ttl)
    assert store.kv_get("state", "k") is None


def test_ping_answers(store: Store) -> None:
    store.ping()
