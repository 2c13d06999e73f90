"""The storage interface every backend implements, and the record it stores.

Callers depend only on :class:`Store`; a backend that cannot reach its storage raises
:class:`StoreUnavailable` so the gateway can fail closed (503) instead of guessing.
"""

from __future__ import annotations

import abc
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


class StoreUnavailable(Exception):
    """The backend cannot be reached; callers fail closed (503)."""


@dataclass
class SessionRecord:
    """One signed-in browser session, as kept server-side."""

    id: str  # random session id (the cookie carries a signed copy)
    user: str  # username as sent to apps
    provider: str  # provider id from config
    sub: str  # provider subject
    sid: str | None  # provider session id (OIDC `sid` claim) for back-channel logout
    created: float  # epoch seconds
    last_seen: float  # epoch seconds, updated coarsely (not on every request)
    expires: float  # absolute end of life (created + max_lifetime), epoch seconds
    data: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable claims, groups, ...

    def deadline(self, idle_timeout: float) -> float:
        """When the session ends unless touched again: the earlier of max life and idle end."""
        return min(self.expires, self.last_seen + idle_timeout)

    def with_data(self, **changes: Any) -> SessionRecord:
        """A copy with these ``data`` keys replaced. Records from ``get_session`` may be
        shared by every caller in the process (a backend may keep them), so changes are
        always made on a copy, never in place."""
        return replace(self, data={**self.data, **changes})


class Store(abc.ABC):
    """Sessions (indexed by id, provider sid, provider sub and user) plus a small kv.

    Every method raises :class:`StoreUnavailable`, never a driver exception, when the
    backend can't be reached. Sessions past their deadline (see
    :meth:`SessionRecord.deadline`, with the idle timeout given at put/touch time) and
    expired kv entries are never returned. A kv ``ttl`` of None means "never expires"
    (group assignments, sync results): such entries live until deleted or overwritten.
    """

    # -- sessions ------------------------------------------------------------------------
    @abc.abstractmethod
    def put_session(self, rec: SessionRecord, idle_timeout: float) -> None:
        """Create or replace a session and its index entries."""

    @abc.abstractmethod
    def get_session(self, session_id: str) -> SessionRecord | None:
        """The live session with this id, else None. Hot path: one lookup.

        The record may be shared with other callers in this process: read it, and make
        changes on a copy (:meth:`SessionRecord.with_data`)."""

    @abc.abstractmethod
    def touch_session(self, session_id: str, last_seen: float, idle_timeout: float) -> None:
        """Record activity, sliding the idle deadline (never past ``expires``)."""

    @abc.abstractmethod
    def update_session_data(self, rec: SessionRecord) -> bool:
        """Replace a live session's ``data`` only if it still exists; False if it is gone.

        Refreshes and directory syncs use this, never put_session, so a logout that happens
        while they work is never undone by their write.
        """

    @abc.abstractmethod
    def delete_session(self, session_id: str) -> bool:
        """Remove a session from every index; True if a live session was removed."""

    @abc.abstractmethod
    def delete_sessions(self, session_ids: Iterable[str]) -> int:
        """Batch delete in one round trip where possible; returns how many were live."""

    @abc.abstractmethod
    def sessions_by_sid(self, provider: str, sid: str) -> list[SessionRecord]:
        """Live sessions carrying this provider session id (back-channel logout)."""

    @abc.abstractmethod
    def sessions_by_sub(self, provider: str, sub: str) -> list[SessionRecord]:
        """Live sessions of this provider subject (logout without ``sid``)."""

    @abc.abstractmethod
    def sessions_by_user(self, user: str) -> list[SessionRecord]:
        """Live sessions of a user (admin: force logout everywhere)."""

    @abc.abstractmethod
    def all_sessions(self) -> list[SessionRecord]:
        """Every live session."""

    @abc.abstractmethod
    def purge_expired(self, now: float, idle_timeout: float) -> int:
        """Remove sessions past ``expires`` or idle (``last_seen + idle_timeout < now``).

        Index entries and expired kv entries go too, so storage never grows without
        bound. Returns the number of sessions removed.
        """

    # -- small key/value, expiring or persistent -------------------------------------------
    @abc.abstractmethod
    def kv_get(self, namespace: str, key: str) -> bytes | None:
        """The value, or None if missing or expired."""

    @abc.abstractmethod
    def kv_set(self, namespace: str, key: str, value: bytes, ttl: float | None) -> None:
        """Set a value that expires after ``ttl`` seconds, or never if ``ttl`` is None."""

    @abc.abstractmethod
    def kv_set_many(self, namespace: str, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Set many values with one TTL in one round trip and one transaction (bulk sync)."""

    @abc.abstractmethod
    def kv_add(self, namespace: str, key: str, value: bytes, ttl: float | None) -> bool:
        """Set only if absent, atomically across instances (replay caches, locks)."""

    @abc.abstractmethod
    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, bytes]]:
        """Live entries of a namespace whose key starts with ``prefix``, sorted by key.

        Meant for namespaces of thousands of entries, not millions: all are loaded at once.
        """

    @abc.abstractmethod
    def kv_delete(self, namespace: str, key: str) -> None:
        """Remove a key if present."""

    @abc.abstractmethod
    def kv_pop(self, namespace: str, key: str) -> bytes | None:
        """Atomic get-and-delete, so one-time login state is used at most once."""

    @abc.abstractmethod
    def incr(self, namespace: str, key: str, ttl: float) -> int:
        """Atomic counter; the TTL is set when the counter is created, not on each call."""

    # -- lifecycle -----------------------------------------------------------------------
    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers (readiness probe)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the object may be used again and reconnects lazily."""


# -- helpers shared by the backends ----------------------------------------------------------


def ttl_ms(ttl: float) -> int:
    """A TTL in whole milliseconds, rounded up so a tiny positive TTL never means 'forever'."""
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"ttl must be a positive number of seconds (or None), got {ttl!r}")
    return max(1, math.ceil(ttl * 1000))


def optional_ttl_ms(ttl: float | None) -> int | None:
    """Like :func:`ttl_ms`, but None (never expires) stays None."""
    return None if ttl is None else ttl_ms(ttl)


def dump_data(data: dict[str, Any]) -> str:
    """Compact JSON for ``SessionRecord.data``; raises TypeError early on bad values."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
