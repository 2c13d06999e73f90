"""Shared backend: every gateway instance talking to one Redis behaves as one gateway.

Key layout (``p`` = key prefix):

* ``p s:<id>`` session JSON, expiring at min(expires, last_seen + idle_timeout)
* ``p sid:<provider>:<sid>``, ``p sub:<provider>:<sub>``, ``p u:<user>`` sets of session ids
* ``p all`` sorted set id -> deadline, ``p seen`` id -> last_seen (listing and purging)
* ``p meta`` hash id -> JSON list of the index sets holding it, so an expired session's
  index entries can still be found and removed
* ``p kv:<namespace>:<key>`` small values, with a TTL or (ttl None) without one

Writes that touch several keys are Lua scripts or MULTI pipelines (atomic, one round trip).
Index members whose session key has expired are dropped lazily when read and for good by
purge_expired, which never touches kv keys: Redis expires those itself. ``kv_items`` uses
SCAN with an escaped MATCH pattern (never KEYS, which blocks Redis), then MGETs in one
pipeline; SCAN still walks the whole database, so it costs O(all keys), not O(namespace).
Needs Redis >= 6.2 (GETDEL, SET PXAT); Valkey works alike.

**Redis Cluster** (``redis+cluster://h:p[,h:p]``): every key one script or transaction touches
must live in one hash slot. So the session keys (records, index sets, ``all``, ``seen``,
``meta``) all carry the hash tag ``{sessions}`` (``p{sessions}:s:<id>``...): the scripts stay
atomic and every index stays exact, at the price that the session keyspace lives on one master
(each worker keeps the records it read, see ``tracking.py``, so it is mostly written, rarely
read). kv keys carry their namespace as tag (``p kv:{<namespace>}:<key>``): a bulk write is one
transaction, a listing scans only the master holding that namespace, and the namespaces spread
over the masters. Standalone and Sentinel keep the untagged names.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

import redis

from ssomw.store.base import SessionRecord, Store, StoreUnavailable, optional_ttl_ms, ttl_ms
from ssomw.store.redis_connect import connect, is_cluster_url, parse_cluster_url
from ssomw.store.tracking import TrackedRecords

P = ParamSpec("P")
R = TypeVar("R")

_CHUNK = 500
_SCAN_COUNT = 1000  # keys examined per SCAN call: fewer round trips, each still short
_GLOB = re.compile(r"([\\*?\[\]])")  # characters special in a MATCH pattern

# KEYS: session, all, seen, meta, index sets...  ARGV: id, json, deadline_ms, deadline,
# last_seen, JSON list of the index set names
_PUT = """
local old = redis.call('HGET', KEYS[4], ARGV[1])
if old then
  for _, k in ipairs(cjson.decode(old)) do redis.call('SREM', k, ARGV[1]) end
end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
for i = 5, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[6])
return 1
"""

# KEYS: session, all, seen  ARGV: id, last_seen (JSON number), idle_timeout.
# The stored JSON starts with last_seen and expires (see _encode), so only that prefix is
# rewritten: re-encoding with cjson would turn empty lists in `data` into objects.
_TOUCH = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local exp, rest = string.match(v, '^{"last_seen":[^,]+,"expires":([^,]+)(,.*)$')
if not exp then return redis.error_reply('ssomw: malformed session record') end
local deadline = math.min(tonumber(exp), tonumber(ARGV[2]) + tonumber(ARGV[3]))
local value = '{"last_seen":' .. ARGV[2] .. ',"expires":' .. exp .. rest
redis.call('SET', KEYS[1], value, 'PXAT', string.format('%.0f', math.floor(deadline * 1000)))
redis.call('ZADD', KEYS[2], string.format('%.17g', deadline), ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
"""

# Removes one session everywhere; shared by the delete and purge scripts.
_REMOVE_FN = """
local function remove(prefix, id)
  local idx = redis.call('HGET', KEYS[3], id)
  if idx then
    for _, k in ipairs(cjson.decode(idx)) do redis.call('SREM', k, id) end
    redis.call('HDEL', KEYS[3], id)
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  return redis.call('DEL', prefix .. 's:' .. id)
end
"""

# KEYS: all, seen, meta, then the session keys  ARGV: prefix, ids...
_DELETE = (
    _REMOVE_FN
    + """
local n = 0
for i = 2, #ARGV do n = n + remove(ARGV[1], ARGV[i]) end
return n
"""
)

# KEYS: all, seen, meta  ARGV: prefix, now, idle cutoff, batch size
_PURGE = (
    _REMOVE_FN
    + """
local done, n = {}, 0
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[4])
local idle = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3], 'LIMIT', 0, ARGV[4])
for _, ids in ipairs({due, idle}) do
  for _, id in ipairs(ids) do
    if not done[id] then done[id] = true; remove(ARGV[1], id); n = n + 1 end
  end
end
return n
"""
)


def _unavailable(fn: Callable[P, R]) -> Callable[P, R]:
    """Map every Redis failure except bad arguments (a bug) to StoreUnavailable."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except redis.exceptions.DataError:
            raise
        except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as exc:
            raise StoreUnavailable(f"redis store: {type(exc).__name__}: {exc}") from exc

    return wrapper


def _part(value: str) -> str:
    """Escape a key component that is followed by another, so ``a:b`` + ``c`` != ``a`` + ``b:c``."""
    return value.replace("%", "%25").replace(":", "%3A")


def _tag(value: str) -> str:
    """``value`` as a hash tag: the braces in it are escaped so the tag ends where we say."""
    return "{" + _part(value).replace("{", "%7B").replace("}", "%7D") + "}"


def _glob_literal(text: str) -> str:
    """Escape ``text`` so a SCAN MATCH pattern matches it literally."""
    return _GLOB.sub(r"\\\1", text)


class RedisStore(Store):
    """Store in Redis or Valkey (standalone, TLS, unix socket, Sentinel-managed or Cluster)."""

    def __init__(self, url: str, key_prefix: str = "ssomw:", socket_timeout: float = 0.5) -> None:
        self.url = url
        self.prefix = key_prefix
        self.socket_timeout = socket_timeout
        self.cluster = is_cluster_url(url)
        if self.cluster:
            parse_cluster_url(url)  # refuse a bad URL now, though nothing connects yet
            if "{" in key_prefix or "}" in key_prefix:
                raise ValueError("with Redis Cluster, store.key_prefix must not contain { or }")
        # The session keyspace: one hash tag on Cluster, so every session script is one slot.
        self.sp = key_prefix + "{sessions}:" if self.cluster else key_prefix
        self._client: redis.Redis | redis.RedisCluster | None = None
        if not self.cluster:  # a cluster client connects when made: that waits for first use
            self._connect()
        self._all, self._seen, self._meta = (self.sp + k for k in ("all", "seen", "meta"))
        # Session records this process read, kept while Redis reports them unchanged.
        self.kept: TrackedRecords[SessionRecord] = TrackedRecords(
            self._tracking_connection, self._skey(""))

    @property
    def client(self) -> Any:
        """The redis-py client (``redis.Redis`` or ``redis.RedisCluster``)."""
        return self._client if self._client is not None else self._connect()

    def _connect(self) -> Any:
        client = connect(self.url, self.socket_timeout)
        self._scripts = {name: client.register_script(text) for name, text in
                         (("put", _PUT), ("touch", _TOUCH), ("delete", _DELETE), ("purge", _PURGE))}
        self._client = client
        return client

    def _script(self, name: str) -> Any:
        if self._client is None:
            self._connect()
        return self._scripts[name]

    def _tracking_connection(self) -> redis.Connection:
        """A new RESP3 connection, not pooled, to the server that holds the session keys."""
        if self.cluster:
            node = self.client.get_node_from_key(self._skey(""))
            pool = node.redis_connection.connection_pool
        else:
            pool = self.client.connection_pool
        kwargs = {**pool.connection_kwargs, "protocol": 3}
        kwargs.pop("retry", None)
        return pool.connection_class(**kwargs)

    # -- keys ------------------------------------------------------------------------------
    def _skey(self, session_id: str) -> str:
        return f"{self.sp}s:{session_id}"

    def _sid_key(self, provider: str, sid: str) -> str:
        return f"{self.sp}sid:{_part(provider)}:{sid}"

    def _sub_key(self, provider: str, sub: str) -> str:
        return f"{self.sp}sub:{_part(provider)}:{sub}"

    def _user_key(self, user: str) -> str:
        return f"{self.sp}u:{user}"

    def _kv_key(self, namespace: str, key: str) -> str:
        ns = _tag(namespace) if self.cluster else _part(namespace)
        return f"{self.prefix}kv:{ns}:{key}"

    # -- sessions --------------------------------------------------------------------------
    @staticmethod
    def _encode(rec: SessionRecord) -> str:
        # last_seen and expires must come first: the touch script rewrites that prefix.
        fields = {
            "last_seen": float(rec.last_seen), "expires": float(rec.expires), "id": rec.id,
            "user": rec.user, "provider": rec.provider, "sub": rec.sub, "sid": rec.sid,
            "created": rec.created, "data": rec.data,
        }  # fmt: skip
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def _decode(raw: bytes) -> SessionRecord:
        return SessionRecord(**json.loads(raw))

    @_unavailable
    def put_session(self, rec: SessionRecord, idle_timeout: float) -> None:
        indexes = [self._sub_key(rec.provider, rec.sub), self._user_key(rec.user)]
        if rec.sid is not None:
            indexes.insert(0, self._sid_key(rec.provider, rec.sid))
        deadline = rec.deadline(idle_timeout)
        try:
            self._script("put")(
                keys=[self._skey(rec.id), self._all, self._seen, self._meta, *indexes],
                args=[rec.id, self._encode(rec), math.floor(deadline * 1000), repr(deadline),
                      repr(float(rec.last_seen)), json.dumps(indexes)],
            )  # fmt: skip
        finally:  # also on an error: the write may have happened
            self.kept.forget([self._skey(rec.id)])

    @_unavailable
    def get_session(self, session_id: str) -> SessionRecord | None:
        key = self._skey(session_id)
        generation, rec = self.kept.get(key)
        if rec is None:
            raw = self.client.get(key)
            rec = None if raw is None else self._decode(raw)
            self.kept.keep(key, generation, rec)
        return rec if rec is not None and rec.expires > time.time() else None

    @_unavailable
    def touch_session(self, session_id: str, last_seen: float, idle_timeout: float) -> None:
        try:
            self._script("touch")(
                keys=[self._skey(session_id), self._all, self._seen],
                args=[session_id, repr(float(last_seen)), repr(float(idle_timeout))],
            )
        finally:
            self.kept.forget([self._skey(session_id)])

    @_unavailable
    def update_session_data(self, rec: SessionRecord) -> bool:
        # XX: only if the session still exists; KEEPTTL: its deadline stays as it is.
        try:
            return bool(self.client.set(self._skey(rec.id), self._encode(rec), xx=True,
                                        keepttl=True))
        finally:
            self.kept.forget([self._skey(rec.id)])

    @_unavailable
    def delete_session(self, session_id: str) -> bool:
        return self._delete_ids([session_id]) > 0

    @_unavailable
    def delete_sessions(self, session_ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(session_ids))
        return sum(self._delete_ids(ids[i : i + _CHUNK]) for i in range(0, len(ids), _CHUNK))

    def _delete_ids(self, ids: list[str]) -> int:
        if not ids:
            return 0
        keys = [self._all, self._seen, self._meta, *(self._skey(i) for i in ids)]
        try:
            return int(self._script("delete")(keys=keys, args=[self.sp, *ids]))
        finally:
            self.kept.forget(keys[3:])

    def _load(self, ids: list[str]) -> tuple[list[SessionRecord], list[str]]:
        """Fetch sessions by id; also returns the ids whose session key is gone."""
        found: list[SessionRecord] = []
        missing: list[str] = []
        now = time.time()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            raws = self.client.mget([self._skey(s) for s in chunk])
            for session_id, raw in zip(chunk, raws, strict=True):
                rec = None if raw is None else self._decode(raw)
                if rec is not None and rec.expires > now:
                    found.append(rec)
                elif rec is None:
                    missing.append(session_id)
        found.sort(key=lambda r: r.created)
        return found, missing

    def _by_index(self, index_key: str) -> list[SessionRecord]:
        ids = sorted(m.decode() for m in self.client.smembers(index_key))
        found, missing = self._load(ids)
        if missing:
            self.client.srem(index_key, *missing)  # lazy cleanup of expired members
        return found

    @_unavailable
    def sessions_by_sid(self, provider: str, sid: str) -> list[SessionRecord]:
        return self._by_index(self._sid_key(provider, sid))

    @_unavailable
    def sessions_by_sub(self, provider: str, sub: str) -> list[SessionRecord]:
        return self._by_index(self._sub_key(provider, sub))

    @_unavailable
    def sessions_by_user(self, user: str) -> list[SessionRecord]:
        return self._by_index(self._user_key(user))

    @_unavailable
    def all_sessions(self) -> list[SessionRecord]:
        ids = [m.decode() for m in self.client.zrangebyscore(self._all, time.time(), "+inf")]
        return self._load(ids)[0]

    @_unavailable
    def purge_expired(self, now: float, idle_timeout: float) -> int:
        total = 0
        while True:  # bounded batches keep each script run short (Redis is single-threaded)
            keys = [self._all, self._seen, self._meta]
            args = [self.sp, repr(float(now)), repr(float(now - idle_timeout)), _CHUNK]
            try:
                n = int(self._script("purge")(keys=keys, args=args))
            finally:
                self.kept.forget_all()
            total += n
            if n == 0:
                return total

    # -- key/value -------------------------------------------------------------------------
    @_unavailable
    def kv_get(self, namespace: str, key: str) -> bytes | None:
        value: bytes | None = self.client.get(self._kv_key(namespace, key))
        return value

    @_unavailable
    def kv_set(self, namespace: str, key: str, value: bytes, ttl: float | None) -> None:
        # A plain SET also drops any TTL the key had, so ttl=None makes it persistent.
        self.client.set(self._kv_key(namespace, key), value, px=optional_ttl_ms(ttl))

    @_unavailable
    def kv_set_many(self, namespace: str, items: Mapping[str, bytes], ttl: float | None) -> None:
        px = optional_ttl_ms(ttl)
        if not items:
            return
        pipe = self.client.pipeline(transaction=True)  # MULTI ... EXEC, sent in one write
        for key, value in items.items():
            pipe.set(self._kv_key(namespace, key), value, px=px)
        pipe.execute()

    @_unavailable
    def kv_add(self, namespace: str, key: str, value: bytes, ttl: float | None) -> bool:
        name = self._kv_key(namespace, key)
        return bool(self.client.set(name, value, px=optional_ttl_ms(ttl), nx=True))

    @_unavailable
    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, bytes]]:
        start = len(self._kv_key(namespace, "").encode())
        pattern = _glob_literal(self._kv_key(namespace, prefix)) + "*"
        # SCAN may repeat a key; UTF-8 byte order is code point order, so this sorts by key.
        scan: dict[str, Any] = {"match": pattern, "count": _SCAN_COUNT}
        if self.cluster:  # the namespace is the hash tag: only its master holds its keys
            scan["target_nodes"] = self.client.get_node_from_key(self._kv_key(namespace, ""))
        names = sorted(set(self.client.scan_iter(**scan)))
        if not names:
            return []
        chunks = [names[i : i + _CHUNK] for i in range(0, len(names), _CHUNK)]
        if self.cluster:  # a cluster pipeline refuses MGET: one call per chunk (one slot)
            got = [self.client.mget(chunk) for chunk in chunks]
        else:
            pipe = self.client.pipeline(transaction=False)
            for chunk in chunks:
                pipe.mget(chunk)
            got = pipe.execute()
        values = [v for chunk in got for v in chunk]
        return [
            (name[start:].decode(), value)
            for name, value in zip(names, values, strict=True)
            if value is not None  # expired or deleted since the scan
        ]

    @_unavailable
    def kv_delete(self, namespace: str, key: str) -> None:
        self.client.delete(self._kv_key(namespace, key))

    @_unavailable
    def kv_pop(self, namespace: str, key: str) -> bytes | None:
        value: bytes | None = self.client.getdel(self._kv_key(namespace, key))
        return value

    @_unavailable
    def incr(self, namespace: str, key: str, ttl: float) -> int:
        # SET NX gives a new counter its TTL; INCR keeps it. One MULTI, any Redis >= 2.6.12.
        name = self._kv_key(namespace, key)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(name, 0, px=ttl_ms(ttl), nx=True)
        pipe.incr(name)
        return int(pipe.execute()[1])

    # -- lifecycle -------------------------------------------------------------------------
    @_unavailable
    def ping(self) -> None:
        self.client.ping()

    def close(self) -> None:
        self.kept.close()
        if self._client is None:
            return
        if self.cluster:
            self._client.disconnect_connection_pools()
        else:
            self._client.connection_pool.disconnect()
