"""Bound LDAP connections within a time budget: failover, TLS, pooling, error mapping.

Everything that can make a caller wait lives here, so the promise "no directory call takes
longer than ``timeout``" is kept in one place: a call gets a deadline, and the slot wait,
connect, TLS handshake, bind and every operation only get what is left of it.
"""

from __future__ import annotations

import math
import ssl
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ldap3 import NONE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPOperationResult

from ssomw.core.url_secrets import redact_url
from ssomw.store.forks import current_pid

T = TypeVar("T")

_STALE_RETRY = 0.25  # a pooled connection failing this fast was closed by the server: retry once
_MAX_IDLE = 300.0  # older idle connections are dropped rather than trusted (firewalls, AD's 15 min)


class DirectoryUnavailable(Exception):
    """The directory is down, too slow, refuses the service bind or answered incompletely."""


class BindRefused(DirectoryUnavailable):
    """The server refused these credentials (an outage for the service, a 'no' for a user)."""


class _Broken(Exception):
    """Internal: the connection failed at transport level (cause attached)."""


class Connector:
    """Opens connections to the first reachable URL and pools the service account's ones.

    Thread-safe: a pooled connection is used by one thread at a time; ``pool_size`` bounds
    how many exist. After a fork (gunicorn) the parent's connections are forgotten, not shared.
    """

    def __init__(
        self, urls: list[str], *, timeout: float, start_tls: bool, ca_file: str | None,
        bind_dn: str | None, bind_password: str | None, pool_size: int,
    ) -> None:  # fmt: skip
        self.urls = urls
        self.timeout = timeout
        self.start_tls = start_tls
        # Certificates are always verified; ca_file replaces the system trust store.
        self._tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
        self._service = (bind_dn, bind_password)
        self._slots = threading.BoundedSemaphore(pool_size)
        self._idle: list[tuple[Connection, float]] = []
        self._lock = threading.Lock()
        self._pid = current_pid()

    def deadline(self) -> float:
        return time.monotonic() + self.timeout

    def open(
        self, user: str | None = None, password: str | None = None, deadline: float | None = None
    ) -> Connection:
        """A new connection bound as user (default: the service account), trying each URL.

        Without a deadline (sync runs) each step gets the full timeout. Our own failover over
        the URLs: ldap3's ServerPool sleeps POOLING_LOOP_TIMEOUT (10 s) once every server failed.
        """
        if user is None:
            user, password = self._service
        last: BaseException | None = None
        for url in self.urls:
            budget = self.timeout if deadline is None else deadline - time.monotonic()
            if budget <= 0:
                break
            try:  # a URL ldap3 cannot read (a userinfo, a bad port) is one more failed URL
                server = Server(url, get_info=NONE, connect_timeout=budget, tls=self._tls)
            except LDAPException as exc:
                last = exc
                continue
            conn = Connection(
                server, user=user, password=password, client_strategy=SYNC, read_only=True,
                raise_exceptions=True, receive_timeout=math.ceil(budget),
                auto_referrals=False, return_empty_attributes=False,
            )  # fmt: skip
            try:
                conn.open()
                conn.socket.settimeout(budget)  # ldap3 only takes whole seconds
                if self.start_tls:
                    conn.start_tls()
            except (LDAPException, OSError) as exc:
                close(conn)
                last = exc
                continue
            try:
                conn.bind()
                return conn
            except LDAPOperationResult as exc:  # the server said no: no other URL will say yes
                close(conn)
                raise BindRefused(f"bind as {user} refused: {describe(exc)}") from exc
            except (LDAPException, OSError) as exc:
                close(conn)
                last = exc
        reason = describe(last) if last else "timeout"
        where = ", ".join(redact_url(url) for url in self.urls)
        raise DirectoryUnavailable(f"cannot reach {where}: {reason}")

    def run(self, operation: Callable[[Connection, float], T], deadline: float) -> T:
        """Run ``operation(conn, deadline)`` on a pooled service connection, mapping failures."""
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise DirectoryUnavailable("all pooled directory connections stayed busy")
        try:
            pooled = self._take()
            if pooled is not None:
                started = time.monotonic()
                try:
                    return self._attempt(pooled, operation, deadline)
                except _Broken as exc:
                    if time.monotonic() - started > _STALE_RETRY:
                        raise DirectoryUnavailable(describe(exc.__cause__)) from exc.__cause__
            try:
                conn = self.open(deadline=deadline)
            except BindRefused as exc:
                raise DirectoryUnavailable(f"service {exc}") from exc
            try:
                return self._attempt(conn, operation, deadline)
            except _Broken as exc:
                raise DirectoryUnavailable(describe(exc.__cause__)) from exc.__cause__
        finally:
            self._slots.release()

    def close(self) -> None:
        """Unbind the idle pooled connections; new ones are opened lazily afterwards."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            close(conn)

    def _attempt(
        self, conn: Connection, operation: Callable[[Connection, float], T], deadline: float
    ) -> T:
        try:
            result = operation(conn, deadline)
        except LDAPOperationResult as exc:  # the server answered: the connection is fine
            self._give_back(conn)
            raise DirectoryUnavailable(describe(exc)) from exc
        except DirectoryUnavailable as exc:  # raised by the operation itself
            if is_transport(exc.__cause__):
                close(conn)
            else:
                self._give_back(conn)
            raise
        except (LDAPException, OSError) as exc:  # transport: the connection is unusable
            close(conn)
            raise _Broken() from exc
        self._give_back(conn)
        return result

    def _take(self) -> Connection | None:
        with self._lock:
            if self._pid != current_pid():  # forked: the parent's sockets are not ours
                self._idle, self._pid = [], current_pid()
            while self._idle:
                conn, since = self._idle.pop()
                if time.monotonic() - since < _MAX_IDLE:
                    return conn
                close(conn)
        return None

    def _give_back(self, conn: Connection) -> None:
        with self._lock:
            self._idle.append((conn, time.monotonic()))


def tighten(conn: Connection, deadline: float) -> None:
    """Give the next operation only what is left of the caller's time."""
    budget = deadline - time.monotonic()
    if budget <= 0:
        raise DirectoryUnavailable("directory too slow: timeout")
    conn.socket.settimeout(budget)


def is_transport(exc: BaseException | None) -> bool:
    """A failure of the connection itself rather than an answer from the server."""
    return isinstance(exc, LDAPException | OSError) and not isinstance(exc, LDAPOperationResult)


def close(conn: Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing a broken connection must never raise
        pass


def describe(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}"
