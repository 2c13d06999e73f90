"""Kept records for Redis: no round trip per request, and a revocation still seen within 1 s.

Every allowed request reads one session record. With a shared Redis that read is a network
round trip, the largest part of the decision. Each process keeps the records it read, and
Redis itself says when one changes: a dedicated RESP3 connection per process asks for
server-assisted client-side caching in broadcast mode (``CLIENT TRACKING ON BCAST PREFIX
<session keys>``), so a write by *anyone* (another worker, another gateway host, ``ssomw
sessions revoke``), a key's expiry or a FLUSHALL sends this connection an ``invalidate`` push
naming the keys. A thread reads those pushes and drops the kept records.

A silent connection would leave kept records in use while revocations go unseen. So the same
thread sends a PING every ``heartbeat`` seconds: when the PONG comes back, every invalidation
for a write that finished before the PING was sent has been read (one connection, in order),
and kept records are trusted until ``trust`` seconds after that PING was sent. No PONG in time,
a closed connection (``CLIENT KILL``, a restart, a failover) or an error: nothing kept is used
(every read goes to Redis, which answers or fails closed with a 503) and all kept records are
dropped until the connection is back. A write racing a read cannot leave a stale record kept:
a record read is kept only if no invalidation arrived between the start of the read and the
keep (one counter, bumped by every invalidation and every loss of the connection).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import redis

from ssomw.store.forks import current_pid

log = logging.getLogger("ssomw.store")

T = TypeVar("T")

HEARTBEAT = 0.1  # seconds between PINGs on the tracking connection
TRUST = 0.5  # kept records are used for this long after the last answered PING was sent
RETRY = 0.25  # wait before reconnecting after a failure
STOP_WAIT = 2.0  # close() waits this long at most (a read can block for the socket timeout)


class TrackedRecords(Generic[T]):
    """Records this process read, kept while Redis reports no change to their keys.

    ``connect`` opens a fresh RESP3 ``redis.Connection`` to the server holding the keys
    (it may raise); ``prefix`` is the key prefix tracked (the session records).
    """

    def __init__(self, connect: Callable[[], Any], prefix: str, *, heartbeat: float = HEARTBEAT,
                 trust: float = TRUST, size: int = 16384) -> None:  # fmt: skip
        self.connect = connect
        self.prefix = prefix
        self.heartbeat = heartbeat
        self.trust = trust
        self.size = size
        self._lock = threading.Lock()
        self._rows: dict[str, T] = {}
        self._generation = 0
        self._trusted_until = 0.0  # time.monotonic() deadline; 0 = do not use kept records
        self._pid = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()  # set while the tracking connection is up

    # -- the read path ---------------------------------------------------------------------
    def get(self, key: str) -> tuple[int, T | None]:
        """``(generation, record)``: the kept record if it may be used, else None and the
        generation to pass to :meth:`keep` with the record read now."""
        if self._pid != current_pid():
            self._start()
        generation = self._generation
        if time.monotonic() < self._trusted_until:
            return generation, self._rows.get(key)
        return generation, None

    def keep(self, key: str, generation: int, record: T | None) -> None:
        """Keep ``record`` (read after :meth:`get` returned ``generation``) unless anything
        was invalidated since; None forgets the key."""
        with self._lock:
            if record is None or generation != self._generation:
                self._rows.pop(key, None)
                return
            if len(self._rows) >= self.size:
                self._rows.clear()  # bounded; refilling costs one read per record
            self._rows[key] = record

    def forget(self, keys: Iterable[str]) -> None:
        """After this process wrote these keys: its own next read must see the write, even
        before Redis's push for it arrives."""
        with self._lock:
            self._generation += 1
            for key in keys:
                self._rows.pop(key, None)

    def forget_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._rows.clear()

    def close(self) -> None:
        """Stop the thread and wait (briefly: it checks between heartbeats) until it is gone;
        a later :meth:`get` starts a new one."""
        self._stop.set()
        self._trusted_until = 0.0
        thread, mine = self._thread, self._pid == current_pid()
        self._pid = 0
        self.forget_all()
        if mine and thread is not None and thread is not threading.current_thread():
            thread.join(STOP_WAIT)

    # -- the tracking thread ---------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._pid == current_pid():
                return
            # A forked child inherits the parent's records and deadline, not its thread.
            self._trusted_until = 0.0
            self._rows.clear()
            self._generation += 1
            self._stop = threading.Event()
            self.connected = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                            name="ssomw-redis-tracking", daemon=True)
            self._pid = current_pid()
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        down_since: float | None = None
        while not stop.is_set():
            conn = None
            try:
                conn = self.connect()
                conn.connect()
                # Without a handler the parser drops invalidation pushes; with this one,
                # read_response(push_request=True) hands them to _handle.
                conn._get_parser().set_invalidation_push_handler(lambda message: message)
                conn.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", self.prefix)
                if conn.read_response() not in (b"OK", "OK"):
                    raise redis.ResponseError("CLIENT TRACKING was refused")
                self.forget_all()  # whatever was kept before this connection is unknown
                self.connected.set()
                if down_since is not None:
                    log.warning("redis tracking connection back after %.1f s: kept session "
                                "records are used again", time.monotonic() - down_since)
                    down_since = None
                self._follow(conn, stop)
            except Exception as exc:  # noqa: BLE001 - any failure: distrust, log, reconnect
                self._lost()
                if down_since is None and not stop.is_set():
                    down_since = time.monotonic()
                    log.warning("redis tracking connection lost (%s: %s): every session read "
                                "goes to redis until it is back", type(exc).__name__, exc)
            finally:
                self._lost()
                if conn is not None:
                    conn.disconnect()
            stop.wait(RETRY)

    def _lost(self) -> None:
        self._trusted_until = 0.0
        self.connected.clear()
        self.forget_all()

    def _follow(self, conn: Any, stop: threading.Event) -> None:
        """PING, read pushes until the PONG, trust until ``trust`` after the PING, repeat."""
        while not stop.is_set():
            sent = time.monotonic()
            conn.send_command("PING")
            while not self._handle(conn.read_response(push_request=True)):
                pass
            self._trusted_until = sent + self.trust
            next_ping = sent + self.heartbeat
            while (left := next_ping - time.monotonic()) > 0 and not stop.is_set():
                if conn.can_read(timeout=left):
                    if self._handle(conn.read_response(push_request=True)):
                        raise redis.ResponseError("unexpected reply on the tracking connection")

    def _handle(self, message: Any) -> bool:
        """Apply one message; True if it was the PONG."""
        if message in (b"PONG", "PONG", True):
            return True
        if isinstance(message, list) and message and message[0] in (b"invalidate", "invalidate"):
            keys = message[1] if len(message) > 1 else None
            if keys is None:  # FLUSHALL / FLUSHDB: everything
                self.forget_all()
            else:
                self.forget(k.decode() if isinstance(k, bytes) else k for k in keys)
            return False
        if isinstance(message, Exception):
            raise message
        return False
