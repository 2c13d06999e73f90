"""Redis Cluster faults: a master paused or restarted, connections killed. Every answer is an
error (the gateway's 503) or correct, a kept record is never served once it may be stale, and
the same Store recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from ssomw.config import section_defaults
from ssomw.store import StoreUnavailable, open_store
from ssomw.store.redis import RedisStore
from tests.store.records import make_session
from tests.support.redis_cluster import RedisCluster

FAIL_WITHIN = 2.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    with RedisCluster() as c:
        yield c


@pytest.fixture
def store(cluster: RedisCluster) -> Iterator[RedisStore]:
    cluster.wait_ok()
    cluster.flush()
    s = open_store(section_defaults("store", {"backend": "redis", "url": cluster.url}))
    assert isinstance(s, RedisStore)
    yield s
    for node in cluster.nodes:
        node.thaw()
        if not node.running:
            node.start()
    cluster.wait_ok()
    s.close()


def _kept(store: RedisStore, session_id: str) -> None:
    store.get_session(session_id)
    assert store.kept.connected.wait(5)
    time.sleep(0.15)
    store.get_session(session_id)
    store.get_session(session_id)
    assert store.kept.get(store._skey(session_id))[1] is not None


def _eventually(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except StoreUnavailable:
            pass
        assert time.monotonic() < deadline, "did not recover"
        time.sleep(0.1)


def test_paused_session_master_fails_closed_then_recovers(
    cluster: RedisCluster, store: RedisStore
) -> None:
    rec = make_session()
    store.put_session(rec, 60)
    _kept(store, rec.id)
    node = cluster.node_for(store._skey(rec.id))
    node.freeze()
    try:
        time.sleep(store.kept.trust + 0.1)  # no PONG since: nothing kept is trusted
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get_session(rec.id)
        assert time.monotonic() - started < FAIL_WITHIN
    finally:
        node.thaw()
    _eventually(lambda: store.get_session(rec.id) == rec)


def test_restarted_session_master_loses_nothing_it_should_not_serve(
    cluster: RedisCluster, store: RedisStore
) -> None:
    """The master comes back empty (nothing persisted): the kept session is gone too."""
    rec = make_session()
    store.put_session(rec, 60)
    _kept(store, rec.id)
    node = cluster.node_for(store._skey(rec.id))
    node.stop()
    for _ in range(3):
        with pytest.raises(StoreUnavailable):
            store.get_session(rec.id)
    node.start()
    cluster.wait_ok()
    _eventually(lambda: store.get_session(rec.id) is None and store.kept.connected.is_set())
    again = make_session()
    store.put_session(again, 60)
    assert store.get_session(again.id) == again


def test_killed_connections_are_reopened(cluster: RedisCluster, store: RedisStore) -> None:
    rec = make_session()
    store.put_session(rec, 60)
    _kept(store, rec.id)
    for node in cluster.nodes:
        redis.Redis(host=node.host, port=node.port).client_kill_filter(_type="normal",
                                                                        skipme=True)
    other = RedisStore(cluster.url)
    other.delete_session(rec.id)
    deadline = time.monotonic() + 1.0
    while store.get_session(rec.id) is not None:
        assert time.monotonic() < deadline, "revoked session still served after 1 s"
    store.kv_set("n", "k", b"v", 60)  # the pools reconnect too
    assert store.kv_get("n", "k") == b"v"
    other.close()


def test_store_for_unreachable_cluster_can_be_created(cluster: RedisCluster) -> None:
    """Like standalone: startup does not need Redis; the first call fails closed."""
    s = open_store(section_defaults("store", {
        "backend": "redis", "url": "redis+cluster://127.0.0.1:1", "socket_timeout": 0.2}))
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable):
            s.get_session("x")
        assert time.monotonic() - started < FAIL_WITHIN
    finally:
        s.close()
