"""Directory syncs started from the API: one background thread in this worker at a time.

``run_sync``'s store lock keeps it to one run across every instance; "running" is that lock
(or this worker's thread, which may not have taken it yet), so any instance reports it.
A failure is kept in the store too, so the status call on another instance can show it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from ssomw.directory.sync import LOCK, last_report
from ssomw.gateway.housekeeping import run_directory_sync
from ssomw.gateway.runtime import Runtime

log = logging.getLogger("ssomw.admin")
LAST_ERROR = ("directory-sync", "last-error")
LOCK_TTL = 600.0

_guard = threading.Lock()
_thread: threading.Thread | None = None


def sync_running(runtime: Runtime) -> bool:
    local = _thread is not None and _thread.is_alive()
    return local or runtime.store.kv_get(*LOCK) is not None


def start_sync(runtime: Runtime) -> bool:
    """Start a sync in a daemon thread; False when one is already running (anywhere)."""
    global _thread
    with _guard:
        if sync_running(runtime):
            return False
        _thread = threading.Thread(target=_run, args=(runtime,), name="ssomw-admin-sync",
                                   daemon=True)
        _thread.start()
        return True


def _run(runtime: Runtime) -> None:
    try:
        report = run_directory_sync(runtime, "admin API")
        if report is not None and not report.skipped_because_locked:
            runtime.store.kv_delete(*LAST_ERROR)
    except Exception as exc:  # noqa: BLE001 - a background thread must report, not die
        log.warning("directory sync (admin API) failed: %s", exc)
        try:
            runtime.store.kv_set(*LAST_ERROR, json.dumps(
                {"time": round(time.time(), 3), "message": str(exc)}).encode(), None)
        except Exception:  # noqa: BLE001 - the store may be what failed
            pass


def sync_status(runtime: Runtime) -> dict[str, Any]:
    report = last_report(runtime.store)
    error = runtime.store.kv_get(*LAST_ERROR)
    return {"running": sync_running(runtime),
            "last_report": report.as_dict() if report else None,
            "last_error": json.loads(error) if error else None}
