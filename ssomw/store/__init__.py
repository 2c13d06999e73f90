"""Where sessions and small shared state live: one interface, two backends.

``open_store(settings)`` turns the validated ``store`` config section into a :class:`Store`.
"""

from __future__ import annotations

from typing import Any

from ssomw.store.base import SessionRecord, Store, StoreUnavailable

__all__ = ["SessionRecord", "Store", "StoreUnavailable", "open_store"]


def open_store(settings: dict[str, Any]) -> Store:
    """Build the configured backend from the validated ``store`` section (its defaults come
    from the schema: ``ssomw.config.section_defaults("store", {...})`` fills a partial one).
    Nothing connects yet: the first call (or ping) does."""
    backend = settings["backend"]
    if backend == "sqlite":
        from ssomw.store.sqlite import SqliteStore

        return SqliteStore(settings["path"])
    if backend == "redis":
        from ssomw.store.redis import RedisStore

        return RedisStore(settings["url"], key_prefix=settings["key_prefix"],
                          socket_timeout=settings["socket_timeout"])
    raise ValueError(f"unknown store backend {backend!r} (expected sqlite or redis)")
