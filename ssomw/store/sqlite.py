"""Embedded backend: one SQLite file shared by every worker process on one host.

WAL mode lets readers (the hot ``get_session`` path) run while another process writes.
Connections are per process *and* thread: gunicorn forks workers after the app may have
opened the store, and an SQLite connection must never cross a fork, so a changed pid
means "open a new one" (the inherited one is left untouched, never closed, in the child).
Atomic operations are single statements (UPSERT / DELETE ... RETURNING), which SQLite runs
as one write transaction; multi-statement writes use ``BEGIN IMMEDIATE``. A kv entry that
never expires has ``expires = +Infinity`` (a REAL SQLite stores and compares natively), so
every ``expires <= now`` check, purge included, leaves it alone without a schema change.
Sessions read on the hot path are kept per process (the same record object is handed out
again) and read again as soon as any process writes them (``marks.py``, a shared file next to
the database).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from ssomw.store.base import (
    SessionRecord,
    Store,
    StoreUnavailable,
    dump_data,
    optional_ttl_ms,
    ttl_ms,
)
from ssomw.store.forks import current_pid
from ssomw.store.marks import ChangeMarks, KeptRows

log = logging.getLogger("ssomw.store")
P = ParamSpec("P")
R = TypeVar("R")

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id        TEXT PRIMARY KEY,
    user      TEXT NOT NULL,
    provider  TEXT NOT NULL,
    sub       TEXT NOT NULL,
    sid       TEXT,
    created   REAL NOT NULL,
    last_seen REAL NOT NULL,
    expires   REAL NOT NULL,
    deadline  REAL NOT NULL,  -- min(expires, last_seen + idle_timeout): when it stops counting
    data      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user);
CREATE INDEX IF NOT EXISTS sessions_sid ON sessions (provider, sid);
CREATE INDEX IF NOT EXISTS sessions_sub ON sessions (provider, sub);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires);
CREATE INDEX IF NOT EXISTS sessions_deadline ON sessions (deadline);
CREATE INDEX IF NOT EXISTS sessions_last_seen ON sessions (last_seen);
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     BLOB NOT NULL,
    expires   REAL NOT NULL,  -- epoch seconds; +Infinity = never
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires);
"""

_COLS = "id, user, provider, sub, sid, created, last_seen, expires, deadline, data"
_GET = f"SELECT {_COLS} FROM sessions WHERE id = ?"
_PUT = f"INSERT OR REPLACE INTO sessions ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_TOUCH = "UPDATE sessions SET last_seen = ?, deadline = MIN(expires, ?) WHERE id = ?"
_DELETE = "DELETE FROM sessions WHERE id = ? RETURNING deadline"
_KV_GET = "SELECT value, expires FROM kv WHERE namespace = ? AND key = ?"
_KV_SET = "INSERT OR REPLACE INTO kv (namespace, key, value, expires) VALUES (?, ?, ?, ?)"
_KV_ADD = (
    "INSERT INTO kv (namespace, key, value, expires) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
    " expires = excluded.expires WHERE kv.expires <= ? RETURNING 1"
)
# ``key >= :prefix`` lets the primary key skip to the prefix; substr() compares literally
# (no LIKE/GLOB wildcards), in characters like length().
_KV_ITEMS = (
    "SELECT key, value FROM kv WHERE namespace = :ns AND key >= :prefix"
    " AND substr(key, 1, length(:prefix)) = :prefix AND expires > :now ORDER BY key"
)
_KV_POP = "DELETE FROM kv WHERE namespace = ? AND key = ? RETURNING value, expires"
_INCR = (
    "INSERT INTO kv (namespace, key, value, expires) VALUES (:ns, :key, 1, :exp)"
    " ON CONFLICT (namespace, key) DO UPDATE SET"
    " value = CASE WHEN kv.expires <= :now THEN 1 ELSE CAST(kv.value AS INTEGER) + 1 END,"
    " expires = CASE WHEN kv.expires <= :now THEN excluded.expires ELSE kv.expires END"
    " RETURNING value"
)
_BATCH = 500  # stays well under SQLite's bound-parameter limit

# Connections inherited across fork(): closing them in the child could checkpoint or
# unlink the parent's WAL, so they are parked here for the life of the process.
_INHERITED: list[sqlite3.Connection] = []


def _unavailable(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn driver and OS errors into StoreUnavailable and drop the thread's connection."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # a bug in our SQL, not an outage
        except (sqlite3.Error, OSError) as exc:
            store = args[0]
            assert isinstance(store, SqliteStore)
            store._forget_connection()
            raise StoreUnavailable(f"sqlite store {store.path}: {exc}") from exc

    return wrapper


class SqliteStore(Store):
    """Store in one SQLite file; safe across threads and forked worker processes."""

    def __init__(self, path: str, busy_timeout: float = 5.0) -> None:
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise RuntimeError(f"SQLite >= 3.35 is required, found {sqlite3.sqlite_version}")
        self.path = os.path.abspath(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[tuple[int, sqlite3.Connection]] = []
        self._generation = 0  # bumped by close() so every thread reconnects
        self._schema_pid = 0
        self._kept: KeptRows[tuple[float, SessionRecord]] | None = None

    # -- connections -----------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is not None and local.pid == current_pid() and local.gen == self._generation:
            return conn
        return self._open()

    def _open(self) -> sqlite3.Connection:
        pid = os.getpid()
        with self._lock:
            _INHERITED.extend(c for p, c in self._conns if p != pid)
            self._conns = [(p, c) for p, c in self._conns if p == pid]
        parent = os.path.dirname(self.path)
        os.makedirs(parent, mode=0o700, exist_ok=True)
        # Create the file ourselves so it is 0600 from the start; SQLite gives the -wal and
        # -shm files the database file's permissions.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,  # only so close() can close other threads' connections
            cached_statements=64,
        )
        try:
            conn.execute("PRAGMA synchronous = NORMAL")  # durable in WAL except on power loss
            if self._schema_pid != pid:
                self._init_schema(conn)
                self._schema_pid = pid
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._conns.append((pid, conn))
            if self._kept is None:
                self._kept = self._open_marks()
        self._local.conn, self._local.pid, self._local.gen = conn, pid, self._generation
        return conn

    def _open_marks(self) -> KeptRows[tuple[float, SessionRecord]] | None:
        try:
            return KeptRows(ChangeMarks(f"{self.path}.marks"))
        except (OSError, ValueError) as exc:
            log.warning("cannot map %s.marks (%s): every session read goes to the database, "
                        "and this process's session changes reach the sessions other "
                        "processes keep only within 1 s; give it the database's owner and mode",
                        self.path, exc)
            return None

    def _changed(self, session_ids: Iterable[str]) -> None:
        if self._kept is not None:
            self._kept.marks.changed(session_ids)

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        # Only the first opener switches modes and creates tables: both need locks that, taken
        # by many connections at once (gunicorn workers starting together), can fail with
        # SQLITE_BUSY before the busy timeout applies.
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        deadline = time.monotonic() + self.busy_timeout
        while mode.lower() != "wal":
            try:  # switching modes ignores the busy timeout: retry while others hold locks
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch {self.path} to WAL (got {mode})")
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        script = f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
        try:
            conn.executescript(script)
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise

    def _forget_connection(self) -> None:
        """After an error, the next call in this thread starts from a fresh connection."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is None or self._local.pid != os.getpid():
            return
        with self._lock:
            self._conns = [(p, c) for p, c in self._conns if c is not conn]
        try:
            conn.close()
        except sqlite3.Error:
            pass

    @contextmanager
    def _write(self, conn: sqlite3.Connection) -> Iterator[None]:
        """One write transaction, taking the write lock up front (no upgrade deadlocks)."""
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        conn.execute("COMMIT")

    # -- sessions --------------------------------------------------------------------------
    @staticmethod
    def _record(row: tuple[Any, ...]) -> SessionRecord:
        return SessionRecord(
            id=row[0], user=row[1], provider=row[2], sub=row[3], sid=row[4], created=row[5],
            last_seen=row[6], expires=row[7], data=json.loads(row[9]),
        )  # fmt: skip

    @_unavailable
    def put_session(self, rec: SessionRecord, idle_timeout: float) -> None:
        params = (
            rec.id, rec.user, rec.provider, rec.sub, rec.sid, rec.created, rec.last_seen,
            rec.expires, rec.deadline(idle_timeout), dump_data(rec.data),
        )  # fmt: skip
        try:
            self._conn().execute(_PUT, params)
        finally:
            self._changed((rec.id,))

    @_unavailable
    def get_session(self, session_id: str) -> SessionRecord | None:
        kept = self._kept
        if kept is None:
            found = self._read_session(session_id)
        else:
            note, found = kept.get(session_id)
            if found is None:
                found = self._read_session(session_id)
                kept.keep(session_id, note, found)
        if found is None or found[0] <= time.time():
            return None
        return found[1]

    def _read_session(self, session_id: str) -> tuple[float, SessionRecord] | None:
        """``(deadline, record)`` as stored, whether or not the deadline has passed."""
        row = self._conn().execute(_GET, (session_id,)).fetchone()
        return None if row is None else (row[8], self._record(row))

    @_unavailable
    def touch_session(self, session_id: str, last_seen: float, idle_timeout: float) -> None:
        try:
            self._conn().execute(_TOUCH, (last_seen, last_seen + idle_timeout, session_id))
        finally:
            self._changed((session_id,))

    @_unavailable
    def update_session_data(self, rec: SessionRecord) -> bool:
        try:
            cur = self._conn().execute(
                "UPDATE sessions SET data = ? WHERE id = ? AND deadline > ?",
                (dump_data(rec.data), rec.id, time.time()))
        finally:
            self._changed((rec.id,))
        return cur.rowcount > 0

    @_unavailable
    def delete_session(self, session_id: str) -> bool:
        try:
            rows = self._conn().execute(_DELETE, (session_id,)).fetchall()
        finally:
            self._changed((session_id,))
        return bool(rows) and rows[0][0] > time.time()

    @_unavailable
    def delete_sessions(self, session_ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(session_ids))
        if not ids:
            return 0
        conn, now, live = self._conn(), time.time(), 0
        try:
            with self._write(conn):
                for i in range(0, len(ids), _BATCH):
                    chunk = ids[i : i + _BATCH]
                    marks = ",".join("?" * len(chunk))
                    sql = f"DELETE FROM sessions WHERE id IN ({marks}) RETURNING deadline"
                    live += sum(1 for (deadline,) in conn.execute(sql, chunk).fetchall()
                                if deadline > now)  # fmt: skip
        finally:
            self._changed(ids)
        return live

    def _select(self, where: str, params: tuple[Any, ...]) -> list[SessionRecord]:
        sql = f"SELECT {_COLS} FROM sessions WHERE {where} AND deadline > ? ORDER BY created"
        rows = self._conn().execute(sql, (*params, time.time())).fetchall()
        return [self._record(row) for row in rows]

    @_unavailable
    def sessions_by_sid(self, provider: str, sid: str) -> list[SessionRecord]:
        return self._select("provider = ? AND sid = ?", (provider, sid))

    @_unavailable
    def sessions_by_sub(self, provider: str, sub: str) -> list[SessionRecord]:
        return self._select("provider = ? AND sub = ?", (provider, sub))

    @_unavailable
    def sessions_by_user(self, user: str) -> list[SessionRecord]:
        return self._select("user = ?", (user,))

    @_unavailable
    def all_sessions(self) -> list[SessionRecord]:
        return self._select("1", ())

    @_unavailable
    def purge_expired(self, now: float, idle_timeout: float) -> int:
        conn = self._conn()
        try:
            with self._write(conn):
                cur = conn.execute(
                    "DELETE FROM sessions WHERE deadline <= ? OR last_seen < ?",
                    (now, now - idle_timeout),
                )
                removed = cur.rowcount
                conn.execute("DELETE FROM kv WHERE expires <= ?", (now,))
        finally:
            if self._kept is not None:
                self._kept.marks.changed_all()
        return removed

    # -- key/value -------------------------------------------------------------------------
    @_unavailable
    def kv_get(self, namespace: str, key: str) -> bytes | None:
        row = self._conn().execute(_KV_GET, (namespace, key)).fetchone()
        if row is None or row[1] <= time.time():
            return None
        return _as_bytes(row[0])

    @_unavailable
    def kv_set(self, namespace: str, key: str, value: bytes, ttl: float | None) -> None:
        expires = _expires(time.time(), ttl)
        self._conn().execute(_KV_SET, (namespace, key, bytes(value), expires))

    @_unavailable
    def kv_set_many(self, namespace: str, items: Mapping[str, bytes], ttl: float | None) -> None:
        expires = _expires(time.time(), ttl)
        rows = [(namespace, key, bytes(value), expires) for key, value in items.items()]
        if not rows:
            return
        conn = self._conn()
        with self._write(conn):
            conn.executemany(_KV_SET, rows)

    @_unavailable
    def kv_add(self, namespace: str, key: str, value: bytes, ttl: float | None) -> bool:
        now = time.time()
        params = (namespace, key, bytes(value), _expires(now, ttl), now)
        return bool(self._conn().execute(_KV_ADD, params).fetchall())

    @_unavailable
    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, bytes]]:
        params = {"ns": namespace, "prefix": prefix, "now": time.time()}
        rows = self._conn().execute(_KV_ITEMS, params).fetchall()
        return [(key, _as_bytes(value)) for key, value in rows]

    @_unavailable
    def kv_delete(self, namespace: str, key: str) -> None:
        self._conn().execute("DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key))

    @_unavailable
    def kv_pop(self, namespace: str, key: str) -> bytes | None:
        rows = self._conn().execute(_KV_POP, (namespace, key)).fetchall()
        if not rows or rows[0][1] <= time.time():
            return None
        return _as_bytes(rows[0][0])

    @_unavailable
    def incr(self, namespace: str, key: str, ttl: float) -> int:
        now = time.time()
        params = {"ns": namespace, "key": key, "exp": now + ttl_ms(ttl) / 1000, "now": now}
        return int(self._conn().execute(_INCR, params).fetchall()[0][0])

    # -- lifecycle -------------------------------------------------------------------------
    @_unavailable
    def ping(self) -> None:
        self._conn().execute("SELECT count(*) FROM sqlite_master").fetchone()

    def close(self) -> None:
        pid = os.getpid()
        with self._lock:
            mine = [c for p, c in self._conns if p == pid]
            self._conns = [(p, c) for p, c in self._conns if p != pid]
            self._generation += 1
        if self._kept is not None:
            self._kept.clear()
        for conn in mine:
            try:
                conn.close()
            except sqlite3.Error:
                pass


def _expires(now: float, ttl: float | None) -> float:
    """Absolute expiry for a TTL; +Infinity for None, which no ``expires <= now`` matches."""
    ms = optional_ttl_ms(ttl)
    return math.inf if ms is None else now + ms / 1000


def _as_bytes(value: bytes | int | str) -> bytes:
    """Counters are stored as integers; kv_get returns them as Redis would (b"3")."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()
