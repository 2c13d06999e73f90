"""Redis specifics: URLs (unix, Sentinel), key layout, round trips, lazy index cleanup."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator

import pytest
import redis

from ssomw.config import section_defaults
from ssomw.store import open_store
from ssomw.store.redis import RedisStore
from ssomw.store.redis_connect import parse_cluster_url
from tests.store.records import make_session
from tests.support.patience import CHILD
from tests.support.redis_server import RedisServer


@pytest.fixture
def client(redis_server: RedisServer) -> redis.Redis:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    return client


@pytest.fixture
def store(redis_server: RedisServer, client: redis.Redis) -> Iterator[RedisStore]:
    store = RedisStore(redis_server.url, key_prefix="app1:")
    yield store
    store.close()


# The tracking connection's own commands (tracking.py), not those of the calls under test.
_TRACKING = ("cmdstat_config", "cmdstat_ping", "cmdstat_hello", "cmdstat_client")


def data_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name: s["calls"] for name, s in stats.items() if not name.startswith(_TRACKING)}


def test_get_session_is_one_get_then_none(store: RedisStore, client: redis.Redis) -> None:
    """The first read of a session is one GET; once the tracking connection is up, reading
    it again costs no round trip at all."""
    rec = make_session()
    store.put_session(rec, 60)
    client.config_resetstat()
    assert store.get_session(rec.id) == rec
    assert data_calls(client) == {"cmdstat_get": 1}
    assert store.kept.connected.wait(5)
    time.sleep(0.15)  # one heartbeat: the kept records are trusted
    store.get_session(rec.id)  # read (and kept) after tracking started
    client.config_resetstat()
    assert [store.get_session(rec.id) for _ in range(100)] == [rec] * 100
    assert data_calls(client) == {}


def test_keys_live_under_the_prefix_and_expire(store: RedisStore, client: redis.Redis) -> None:
    rec = make_session(life=100)
    store.put_session(rec, 60)
    store.kv_set("state", "k", b"v", 30)
    keys = {k.decode() for k in client.keys("*")}
    assert all(k.startswith("app1:") for k in keys)
    assert 0 < client.pttl(f"app1:s:{rec.id}") <= 60_000  # idle timeout, not max lifetime
    assert 0 < client.pttl("app1:kv:state:k") <= 30_000


def test_prefixes_isolate_deployments(redis_server: RedisServer, store: RedisStore) -> None:
    other = RedisStore(redis_server.url, key_prefix="app2:")
    try:
        rec = make_session()
        store.put_session(rec, 60)
        store.kv_set("n", "k", b"v", 60)
        assert other.get_session(rec.id) is None
        assert other.all_sessions() == []
        assert other.kv_get("n", "k") is None
    finally:
        other.close()  # else its tracking thread outlives the server and logs the loss


def test_expired_index_members_are_dropped_when_read(
    store: RedisStore, client: redis.Redis
) -> None:
    rec = make_session(life=0.1)
    store.put_session(rec, 60)
    time.sleep(0.2)
    assert store.sessions_by_user("alice") == []
    assert client.smembers("app1:u:alice") == set()


def test_unix_socket_url() -> None:
    with RedisServer(unix_socket=True) as server:
        store = open_store(section_defaults(
            "store", {"backend": "redis", "url": server.unix_url}))
        store.kv_set("n", "k", b"v", 60)
        assert store.kv_get("n", "k") == b"v"
        store.close()


def test_sentinel_url_finds_the_master() -> None:
    with RedisServer() as master, RedisServer(sentinel_for=master) as sentinel:
        store = open_store(section_defaults(
            "store", {"backend": "redis", "url": sentinel.sentinel_url(db=2)}))
        rec = make_session()
        store.put_session(rec, 60)
        assert store.get_session(rec.id) == rec
        direct = redis.Redis(host=master.host, port=master.port, db=2)
        assert direct.exists(f"ssomw:s:{rec.id}")
        store.close()


@pytest.mark.parametrize(
    ("url", "hosts", "service", "db", "password"),
    [
        pytest.param("redis+sentinel://10.0.0.1:26379/gw", [("10.0.0.1", 26379)], "gw", 0, None,
                     id="one-sentinel"),
        pytest.param("redis+sentinel://:s3cret@a:1,b:2,[::1]:3/gw/4",
                     [("a", 1), ("b", 2), ("::1", 3)], "gw", 4, "s3cret", id="several-with-auth"),
        pytest.param("redis+sentinel://a/gw", [("a", 26379)], "gw", 0, None, id="default-port"),
    ],
)  # fmt: skip
def test_sentinel_url_parsing(
    url: str, hosts: list[tuple[str, int]], service: str, db: int, password: str | None
) -> None:
    pool = RedisStore(url).client.connection_pool
    kwargs = pool.connection_kwargs
    sentinels = pool.sentinel_manager.sentinels
    found = [(s.connection_pool.connection_kwargs["host"],
              s.connection_pool.connection_kwargs["port"]) for s in sentinels]  # fmt: skip
    assert (found, pool.service_name, kwargs["db"], kwargs.get("password")) == (
        hosts, service, db, password,
    )  # fmt: skip


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"backend": "redis", "url": "redis+cluster://a:1/3"}, id="cluster-db"),
        pytest.param({"backend": "redis", "url": "redis+cluster://a:1", "key_prefix": "{x}"},
                     id="cluster-braced-prefix"),
        pytest.param({"backend": "redis", "url": "http://a:1/0"}, id="not-redis"),
        pytest.param({"backend": "redis", "url": "redis+sentinel://a:1"}, id="no-service"),
        pytest.param({"backend": "memcached"}, id="unknown-backend"),
    ],
)
def test_unsupported_settings_are_refused(settings: dict) -> None:
    with pytest.raises(ValueError):
        open_store(section_defaults("store", settings))


def _child_reads(store: RedisStore, session_id: str, out: multiprocessing.Queue) -> None:
    found = store.get_session(session_id)
    out.put(found is not None and found.id == session_id)


def test_forked_worker_uses_store_created_before_fork(store: RedisStore) -> None:
    rec = make_session()
    store.put_session(rec, 60)  # the parent's pool now holds a connection
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_child_reads, args=(store, rec.id, out))
    proc.start()
    assert out.get(timeout=CHILD) is True
    proc.join(CHILD)
    assert store.get_session(rec.id) == rec


def test_persistent_kv_has_no_ttl(store: RedisStore, client: redis.Redis) -> None:
    store.kv_set("groups", "alice", b"g", 60)
    store.kv_set("groups", "alice", b"g", None)  # drops the earlier TTL
    store.kv_set_many("dir", {"bob": b"b"}, None)
    assert store.kv_add("cfg", "v", b"1", None) is True
    assert [client.pttl(k) for k in ("app1:kv:groups:alice", "app1:kv:dir:bob", "app1:kv:cfg:v")
            ] == [-1, -1, -1]  # fmt: skip


def test_set_many_is_one_transaction(store: RedisStore, client: redis.Redis) -> None:
    store.ping()  # connect first, so the handshake is not counted
    client.config_resetstat()
    store.kv_set_many("dir", {f"u{i}": b"x" for i in range(1000)}, 3600)
    assert data_calls(client) == {"cmdstat_multi": 1, "cmdstat_set": 1000, "cmdstat_exec": 1}
    assert 0 < client.pttl("app1:kv:dir:u999") <= 3_600_000


def test_items_scan_instead_of_keys(store: RedisStore, client: redis.Redis) -> None:
    store.kv_set_many("dir", {f"u{i}": b"x" for i in range(3000)}, None)
    client.config_resetstat()
    assert len(store.kv_items("dir")) == 3000
    stats = client.info("commandstats")
    assert "cmdstat_keys" not in stats
    assert stats["cmdstat_scan"]["calls"] >= 1
    assert stats["cmdstat_mget"]["calls"] == 6  # chunks of 500, sent as one pipeline


def test_items_do_not_leak_across_glob_like_key_prefixes(
    redis_server: RedisServer, store: RedisStore
) -> None:
    """Unescaped, the pattern ``app[1]:kv:n:*`` would also match ``app1:kv:n:k``."""
    globby = RedisStore(redis_server.url, key_prefix="app[1]:")
    store.kv_set("n", "k", b"app1", None)
    globby.kv_set("n", "k", b"app[1]", None)
    assert globby.kv_items("n") == [("k", b"app[1]")]
    assert store.kv_items("n") == [("k", b"app1")]
    globby.close()


@pytest.mark.parametrize(
    ("url", "nodes", "username", "password"),
    [
        pytest.param("redis+cluster://10.0.0.1:7000", [("10.0.0.1", 7000)], None, None,
                     id="one-node"),
        pytest.param("redis+cluster://gw:s%40cret@a:1,b:2,[::1]:3",
                     [("a", 1), ("b", 2), ("::1", 3)], "gw", "s@cret", id="several-with-auth"),
        pytest.param("rediss+cluster://:pw@a", [("a", 6379)], None, "pw", id="tls-default-port"),
        pytest.param("redis+cluster://a:1/0", [("a", 1)], None, None, id="db-0"),
    ],
)  # fmt: skip
def test_cluster_url_parsing(
    url: str, nodes: list[tuple[str, int]], username: str | None, password: str | None
) -> None:
    assert parse_cluster_url(url) == (nodes, username, password)
    store = RedisStore(url)  # made without connecting: a cluster client connects on first use
    assert store.cluster and store._client is None
