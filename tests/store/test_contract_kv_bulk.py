"""Persistent kv entries, listing a namespace and bulk writes (directory sync), every backend."""

from __future__ import annotations

import time

import pytest

from ssomw.store import Store
from tests.store.conftest import Backend

TEN_YEARS = 10 * 365 * 86400.0


def test_persistent_entries_survive_purge_and_reopen(backend: Backend, store: Store) -> None:
    store.kv_set("groups", "alice", b"staff,admins", None)
    assert store.kv_add("config", "version", b"7", None) is True
    store.kv_set_many("directory", {"bob": b"B", "carol": b"C"}, None)
    store.kv_set("state", "login", b"short-lived", 0.2)
    time.sleep(0.3)
    store.purge_expired(time.time() + TEN_YEARS, 60)
    assert store.kv_get("state", "login") is None
    assert backend.footprint() == 4  # the expiring entry is gone, the persistent ones are not
    store.close()
    again = backend.open()
    assert again.kv_get("groups", "alice") == b"staff,admins"
    assert again.kv_add("config", "version", b"8", None) is False
    assert again.kv_get("config", "version") == b"7"
    assert again.kv_items("directory") == [("bob", b"B"), ("carol", b"C")]


def test_overwriting_switches_between_expiring_and_persistent(store: Store) -> None:
    store.kv_set("n", "was-persistent", b"1", None)
    store.kv_set("n", "was-persistent", b"2", 0.2)
    store.kv_set("n", "was-expiring", b"1", 0.2)
    store.kv_set("n", "was-expiring", b"2", None)
    store.kv_set_many("n", {"bulk-was-expiring": b"2"}, 0.2)
    store.kv_set_many("n", {"bulk-was-expiring": b"3"}, None)
    time.sleep(0.3)
    assert store.kv_get("n", "was-persistent") is None
    assert store.kv_items("n") == [("bulk-was-expiring", b"3"), ("was-expiring", b"2")]


def test_persistent_add_only_once(store: Store) -> None:
    assert store.kv_add("lock", "sync", b"a", None) is True
    assert store.kv_add("lock", "sync", b"b", 60) is False
    assert store.kv_pop("lock", "sync") == b"a"
    assert store.kv_add("lock", "sync", b"c", None) is True


def test_items_are_live_entries_of_one_namespace_sorted_by_key(store: Store) -> None:
    for key in ["zoe", "Zed", "émile", "日本", "bob", "alice"]:
        store.kv_set("users", key, key.encode(), None if key < "m" else 60)
    store.kv_set("users", "gone", b"x", 0.2)
    store.kv_set("users", "deleted", b"x", None)
    store.kv_delete("users", "deleted")
    store.kv_set("users2", "alice", b"other namespace", None)
    store.kv_set("user", "s:alice", b"other namespace", None)
    for _ in range(3):
        store.incr("users", "counter", 60)
    time.sleep(0.3)
    keys = ["Zed", "alice", "bob", "counter", "zoe", "émile", "日本"]  # code point order
    values = [k.encode() for k in keys]
    values[keys.index("counter")] = b"3"
    assert store.kv_items("users") == list(zip(keys, values, strict=True))
    assert store.kv_items("users", "z") == [("zoe", b"zoe")]
    assert store.kv_items("users", "日") == [("日本", "日本".encode())]
    assert store.kv_items("nobody") == []
    assert store.kv_items("users", "nobody") == []


GLOB_KEYS = ["a*b", "a?b", "a[b]", "a]b", "a\\b", "a^b", "a-b", "ab", "axb", "a%3Ab", "b"]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param("", sorted(GLOB_KEYS), id="everything"),
        pytest.param("a", sorted(k for k in GLOB_KEYS if k != "b"), id="a"),
        pytest.param("a*", ["a*b"], id="star"),
        pytest.param("a?", ["a?b"], id="question-mark"),
        pytest.param("a[", ["a[b]"], id="open-bracket"),
        pytest.param("a[b]", ["a[b]"], id="bracket-class"),
        pytest.param("a[bx]", [], id="bracket-class-no-literal-match"),
        pytest.param("a]", ["a]b"], id="close-bracket"),
        pytest.param("a\\", ["a\\b"], id="backslash"),
        pytest.param("a^", ["a^b"], id="caret"),
        pytest.param("a%", ["a%3Ab"], id="percent"),
        pytest.param("a:", [], id="colon"),
        pytest.param("*", [], id="only-star"),
        pytest.param("ab", ["ab"], id="plain"),
    ],
)
def test_items_prefix_is_literal(store: Store, prefix: str, expected: list[str]) -> None:
    store.kv_set_many("glob", {k: k.encode() for k in GLOB_KEYS}, None)
    assert store.kv_items("glob", prefix) == [(k, k.encode()) for k in expected]


@pytest.mark.parametrize("namespace", ["n*", "n?", "n[x]", "n\\", "n:x", "n"])
def test_items_namespace_is_literal(store: Store, namespace: str) -> None:
    for ns in ["n*", "n?", "n[x]", "n\\", "n:x", "n", "nx", "n:", "x"]:
        store.kv_set(ns, "k", ns.encode(), None)
    store.kv_set("n", "x:k", b"looks like namespace n:x", None)
    expected = [("k", namespace.encode())]
    if namespace == "n":
        expected.append(("x:k", b"looks like namespace n:x"))
    assert store.kv_items(namespace) == expected


def test_set_many_overwrites_and_applies_one_ttl(store: Store) -> None:
    store.kv_set("dir", "alice", b"old", None)
    store.kv_set_many("dir", {"alice": b"a", "bob": b"b"}, 0.2)
    store.kv_set_many("dir", {"carol": b"c"}, None)
    store.kv_set_many("dir", {}, None)
    assert store.kv_items("dir") == [("alice", b"a"), ("bob", b"b"), ("carol", b"c")]
    time.sleep(0.3)
    assert store.kv_items("dir") == [("carol", b"c")]
    assert store.kv_get("dir", "alice") is None


def test_twenty_thousand_entries_in_bulk(backend: Backend, store: Store) -> None:
    users = {f"user{i:05d}": f"cn=user{i},ou=people,dc=example,dc=org".encode()
             for i in range(20_000)}  # fmt: skip
    store.kv_set_many("noise", {f"k{i}": b"x" for i in range(5_000)}, 60)  # other keys to scan
    started = time.monotonic()
    store.kv_set_many("directory", users, None)
    written = time.monotonic()
    items = store.kv_items("directory")
    listed = time.monotonic()
    assert len(items) == 20_000
    assert items == sorted(users.items())
    assert len(store.kv_items("directory", "user1")) == 10_000
    assert written - started < 5.0
    assert listed - written < 5.0
    assert backend.footprint() == 25_000
