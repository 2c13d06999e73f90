"""Kept Redis session records (tracking.py): a change made anywhere is seen within 1 s, and
a lost or silent tracking connection never lets a revoked session through.

Two Store objects on one Redis play two gateway instances; each runs on standalone Redis and
on a 3-master Cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis

from ssomw.store import StoreUnavailable
from ssomw.store.forks import current_pid
from ssomw.store.redis import RedisStore
from ssomw.store.tracking import TrackedRecords
from tests.store.records import make_session
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer

SEEN_WITHIN = 1.0


@pytest.fixture(params=["redis", "redis-cluster"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        redis.Redis.from_url(server.url).flushall()
        return server.url
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    cluster.flush()
    return cluster.url


@pytest.fixture
def pair(url: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    """Instance A (keeps records, tracking up and trusted) and instance B (writes)."""
    a, b = RedisStore(url, key_prefix="t:"), RedisStore(url, key_prefix="t:")
    a.get_session("warm-up")  # starts the tracking thread
    assert a.kept.connected.wait(5)
    time.sleep(0.15)  # the first heartbeat answered
    yield a, b
    a.close()
    b.close()


def kept_read(store: RedisStore, session_id: str) -> None:
    """Read twice so the record is kept (the first read after a write may not keep it)."""
    store.get_session(session_id)
    store.get_session(session_id)


def seen_within(check: Callable[[], bool], limit: float = SEEN_WITHIN) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < limit, f"not seen within {limit} s"
        time.sleep(0.005)
    return time.monotonic() - started


def test_logout_on_b_is_refused_on_a_within_1s(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    rec = make_session()
    b.put_session(rec, 60)
    kept_read(a, rec.id)
    assert a.kept.get(a._skey(rec.id))[1] == rec  # really served from memory
    b.delete_session(rec.id)
    assert seen_within(lambda: a.get_session(rec.id) is None) < 0.2


def test_data_change_on_b_is_seen_on_a(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    rec = make_session()
    b.put_session(rec, 60)
    kept_read(a, rec.id)
    b.update_session_data(rec.with_data(groups=["admins"]))
    seen_within(lambda: a.get_session(rec.id).data["groups"] == ["admins"])


@pytest.mark.parametrize("end", [
    pytest.param(lambda b, rec: b.delete_sessions([rec.id]), id="batch-delete"),
    pytest.param(lambda b, rec: [b.delete_session(r.id)
                                 for r in b.sessions_by_sid(rec.provider, rec.sid)],
                 id="back-channel-by-sid"),
    pytest.param(lambda b, rec: b.purge_expired(time.time(), 0.001), id="purge-idle"),
    pytest.param(lambda b, rec: b.client.flushall() if not b.cluster else
                 [b.client.delete(b._skey(rec.id))], id="flush-or-raw-delete"),
])  # fmt: skip
def test_every_way_of_ending_a_session_reaches_a(
    pair: tuple[RedisStore, RedisStore], end: Callable[[RedisStore, object], object]
) -> None:
    a, b = pair
    rec = make_session()
    b.put_session(rec, 60)
    kept_read(a, rec.id)
    end(b, rec)
    seen_within(lambda: a.get_session(rec.id) is None)


def test_own_write_is_seen_at_once(pair: tuple[RedisStore, RedisStore]) -> None:
    a, _ = pair
    rec = make_session()
    a.put_session(rec, 60)
    kept_read(a, rec.id)
    a.delete_session(rec.id)
    assert a.get_session(rec.id) is None  # no wait for Redis's push


def _tracking_ids(client: redis.Redis) -> list[str]:
    """The ids of the connections with tracking on (flag ``t``)."""
    return [conn["id"] for conn in client.client_list() if "t" in conn["flags"]]


def _kill_tracking(client: redis.Redis) -> int:
    """CLIENT KILL every connection with tracking on; how many were killed."""
    return sum(client.client_kill_filter(_id=conn_id) for conn_id in _tracking_ids(client))


def _tracking_back(store: RedisStore, admin: redis.Redis) -> None:
    """Until the store's thread has tracking on again, as the server sees it: ``connected``
    alone may still be set from the killed connection if the thread has not noticed yet."""
    seen_within(lambda: store.kept.connected.is_set() and bool(_tracking_ids(admin)), 5)
    time.sleep(0.15)  # and the first heartbeat answered


def _node_clients(url: str, store: RedisStore) -> redis.Redis:
    if not store.cluster:
        return redis.Redis.from_url(url)
    node = store.client.get_node_from_key(store._skey(""))
    return redis.Redis(host=node.host, port=node.port)


def test_client_kill_of_the_tracking_connection_never_serves_a_revoked_session(
    url: str, pair: tuple[RedisStore, RedisStore]
) -> None:
    a, b = pair
    admin = _node_clients(url, a)
    for _ in range(5):  # the kill and the revocation race the reconnect: try it several times
        rec = make_session()
        b.put_session(rec, 60)
        kept_read(a, rec.id)
        assert _kill_tracking(admin) >= 1
        b.delete_session(rec.id)
        # The push for this delete is lost with the connection. Until the thread notices
        # the close (a few ms), the last PONG still vouches for at most `trust` seconds.
        assert seen_within(lambda r=rec: a.get_session(r.id) is None) < a.kept.trust
        _tracking_back(a, admin)  # reconnects by itself
    rec = make_session()  # noticed first, then revoked: refused at once
    b.put_session(rec, 60)
    kept_read(a, rec.id)
    _kill_tracking(admin)
    seen_within(lambda: not a.kept.connected.is_set())
    b.delete_session(rec.id)
    assert a.get_session(rec.id) is None
    _tracking_back(a, admin)
    rec = make_session()  # and keeps records again once it is back
    b.put_session(rec, 60)
    kept_read(a, rec.id)
    assert a.kept.get(a._skey(rec.id))[1] == rec


def test_silent_tracking_connection_stops_trust(pair: tuple[RedisStore, RedisStore]) -> None:
    """A connection that stays open but stops answering (no PONG) is not trusted for long."""
    a, b = pair
    rec = make_session()
    b.put_session(rec, 60)
    kept_read(a, rec.id)
    a.kept.heartbeat = 60.0  # stand-in for a silent peer: no new PING, so no new PONG
    time.sleep(a.kept.trust + 0.2)
    assert a.kept.get(a._skey(rec.id))[1] is None


def test_frozen_redis_fails_closed_instead_of_serving_kept(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, key_prefix="frz:")
    rec = make_session()
    store.put_session(rec, 60)
    store.get_session(rec.id)
    assert store.kept.connected.wait(5)
    time.sleep(0.15)
    kept_read(store, rec.id)
    redis_server.freeze()
    try:
        time.sleep(store.kept.trust + 0.1)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get_session(rec.id)
        assert time.monotonic() - started < 2.0
    finally:
        redis_server.thaw()
    assert seen_within(lambda: store.get_session(rec.id) == rec, 5.0) < 5.0
    store.close()


def test_sentinel_failover_never_serves_a_revoked_session() -> None:
    """The master dies; Sentinel promotes the replica. Meanwhile every answer is an error or
    correct; afterwards a revocation on the new master reaches the kept records."""
    with RedisServer() as master, RedisServer() as replica:
        redis.Redis(host=replica.host, port=replica.port).replicaof(master.host, master.port)
        seen_within(lambda: redis.Redis(host=replica.host, port=replica.port)
                    .info("replication")["master_link_status"] == "up", 10.0)
        with RedisServer(sentinel_for=master) as sentinel:
            a = RedisStore(sentinel.sentinel_url(), key_prefix="f:")
            b = RedisStore(sentinel.sentinel_url(), key_prefix="f:")
            rec = make_session()
            a.put_session(rec, 60)
            seen_within(lambda: redis.Redis(host=replica.host, port=replica.port)
                        .exists(f"f:s:{rec.id}") == 1, 5.0)
            a.get_session(rec.id)
            assert a.kept.connected.wait(5)
            time.sleep(0.15)
            kept_read(a, rec.id)
            seen_within(lambda: len(redis.Redis(host=sentinel.host, port=sentinel.port)
                        .sentinel_slaves("mymaster")) == 1, 15.0)
            master.stop()
            answers: set[str] = set()

            def promoted() -> bool:
                try:
                    answers.add("ok" if a.get_session(rec.id) == rec else "wrong")
                except StoreUnavailable:
                    answers.add("503")
                    return False
                try:
                    b.kv_set("n", "k", b"v", 60)  # a write only a master takes
                    return True
                except StoreUnavailable:
                    return False

            seen_within(promoted, 30.0)
            assert "wrong" not in answers
            b.delete_session(rec.id)
            seen_within(lambda: a.get_session(rec.id) is None)
            again = make_session()
            b.put_session(again, 60)
            seen_within(lambda: a.get_session(again.id) == again, 5.0)
            assert a.kept.connected.wait(5)  # tracking follows the new master
            time.sleep(0.15)
            kept_read(a, again.id)
            assert a.kept.get(a._skey(again.id))[1] == again
            a.close()
            b.close()


# -- the keeping rules alone, without a server ----------------------------------------------


def _unconnectable() -> object:
    raise redis.ConnectionError("no server in this test")


def _trusted() -> TrackedRecords[str]:
    kept: TrackedRecords[str] = TrackedRecords(_unconnectable, "p:s:")
    kept._pid = current_pid()  # no thread: the test plays its part
    kept._trusted_until = time.monotonic() + 60  # as if a PONG had just come back
    return kept


def test_a_record_read_while_an_invalidation_arrived_is_not_kept() -> None:
    kept = _trusted()
    generation, _ = kept.get("p:s:1")
    kept.forget(["p:s:other"])  # any invalidation between the read's start and its keep
    kept.keep("p:s:1", generation, "stale?")
    assert kept.get("p:s:1")[1] is None
    generation, _ = kept.get("p:s:1")
    kept.keep("p:s:1", generation, "fresh")
    assert kept.get("p:s:1")[1] == "fresh"
    kept.close()


def test_nothing_kept_is_used_without_an_answered_ping() -> None:
    kept = _trusted()
    generation, _ = kept.get("p:s:1")
    kept.keep("p:s:1", generation, "rec")
    kept._trusted_until = time.monotonic() - 0.001
    assert kept.get("p:s:1")[1] is None
    kept.close()


def test_a_forked_child_trusts_nothing_it_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = _trusted()
    generation, _ = kept.get("p:s:1")
    kept.keep("p:s:1", generation, "rec")
    assert kept.get("p:s:1")[1] == "rec"
    monkeypatch.setattr("ssomw.store.tracking.current_pid", lambda: -1)  # "after fork()"
    assert kept.get("p:s:1")[1] is None
    kept.close()
