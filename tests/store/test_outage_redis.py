"""Redis outages: every call fails closed within 2 s, and the same Store recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ssomw.config import section_defaults
from ssomw.store import Store, StoreUnavailable, open_store
from tests.store.records import EVERY_METHOD, make_session
from tests.support.redis_server import RedisServer

FAIL_WITHIN = 2.0


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as srv:
        yield srv


@pytest.fixture
def store(server: RedisServer) -> Iterator[Store]:
    server.start()  # a previous test may have left it stopped
    store = open_store(section_defaults(
            "store", {"backend": "redis", "url": server.url, "socket_timeout": 0.5}))
    store.ping()  # pooled connection exists before the outage
    yield store
    server.thaw()
    server.start()
    store.close()


def assert_fails_fast(call: Callable[[Store], Any], store: Store) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        call(store)
    assert time.monotonic() - started < FAIL_WITHIN


@pytest.mark.parametrize("call", EVERY_METHOD)
def test_stopped_redis_fails_closed(
    server: RedisServer, store: Store, call: Callable[[Store], Any]
) -> None:
    server.stop()
    assert_fails_fast(call, store)


@pytest.mark.parametrize("call", EVERY_METHOD[:3] + EVERY_METHOD[-3:])
def test_hung_redis_fails_closed(
    server: RedisServer, store: Store, call: Callable[[Store], Any]
) -> None:
    server.freeze()  # accepts TCP connections, never answers
    assert_fails_fast(call, store)


def test_same_store_works_again_after_restart(server: RedisServer, store: Store) -> None:
    server.stop()
    assert_fails_fast(lambda s: s.get_session("x"), store)
    server.start()
    rec = make_session()
    store.put_session(rec, 60)  # scripts are reloaded into the fresh server transparently
    assert store.get_session(rec.id) == rec
    assert store.kv_add("jti", "j", b"1", 60) is True


def test_restart_between_calls_is_invisible(server: RedisServer, store: Store) -> None:
    """Pooled connections die with the server; the one retry reconnects without an error."""
    server.stop()
    server.start()
    assert store.get_session("x") is None
    store.touch_session("x", time.time(), 60)


def test_hung_redis_recovers_when_it_answers_again(server: RedisServer, store: Store) -> None:
    server.freeze()
    assert_fails_fast(lambda s: s.kv_get("n", "k"), store)
    server.thaw()
    store.kv_set("n", "k", b"v", 60)
    assert store.kv_get("n", "k") == b"v"


def test_store_for_unreachable_redis_can_be_created(server: RedisServer) -> None:
    """Startup does not need Redis; readiness (ping) reports it."""
    server.stop()
    store = open_store(section_defaults(
            "store", {"backend": "redis", "url": server.url}))
    assert_fails_fast(lambda s: s.ping(), store)
