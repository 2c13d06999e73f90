"""Where sessions and small shared state live: one interface, two backends.

``open_store(settings)`` turns the validated ``store`` config section into a :class:`Store`.
"""

from __future__ import annotations

from typing import Any

from ssomw.store.base import SessionRecord, Store, StoreUnavailable

__all__ = ["SessionRecord", "Store", "StoreUnavailable", "open_store"]


def open_store(settings: dict[str, Any]) -> Store:
    """Build the configured backend. Nothing connects yet: the first call (or ping) does.

    ``{"backend": "sqlite", "path": ...[, "busy_timeout": 5.0]}`` or
    ``{"backend": "redis", "url": ...[, "key_prefix": "ssomw:", "socket_timeout": 0.5]}``.
    """
    backend = settings.get("backend", "sqlite")
    if backend == "sqlite":
        from ssomw.store.sqlite import SqliteStore

        return SqliteStore(settings["path"], busy_timeout=settings.get("busy_timeout", 5.0))
    if backend == "redis":
        from ssomw.store.redis import RedisStore

        return RedisStore(
            settings["url"],
            key_prefix=settings.get("key_prefix", "ssomw:"),
            socket_timeout=settings.get("socket_timeout", 0.5),
        )
    raise ValueError(f"unknown store backend {backend!r} (expected sqlite or redis)")
