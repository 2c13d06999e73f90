"""Background upkeep in each worker: purge expired sessions so the store never grows unbounded.

Runs in a daemon thread started lazily after gunicorn forks. A store lock (``kv_add`` with a
TTL) makes one instance do each round however many workers and instances share the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ssomw.directory.ldap import DirectoryUnavailable
from ssomw.directory.sync import SyncReport, run_sync
from ssomw.gateway.runtime import Runtime
from ssomw.store.base import StoreUnavailable
from ssomw.telemetry import metrics

log = logging.getLogger("ssomw.housekeeping")
PURGE_INTERVAL = 60.0
SYNC_LOCK_TTL = 600.0


def purge_round(runtime: Runtime, now: float | None = None) -> int | None:
    """One purge if no other worker or instance did one this interval; returns the count."""
    now = time.time() if now is None else now
    idle = runtime.sessions.settings.idle_timeout
    try:
        if not runtime.store.kv_add("lock", "purge", b"1", PURGE_INTERVAL * 0.9):
            return None
        purged = runtime.store.purge_expired(now, idle)
    except StoreUnavailable as exc:
        runtime.outage.failed("purge", exc)
        return None
    if purged:
        metrics.logout("timeout", purged)
        log.info("purged %d expired session(s)", purged)
    return purged


def run_directory_sync(runtime: Runtime, origin: str) -> SyncReport | None:
    """One directory sync with metrics and a log line; raises DirectoryUnavailable or
    StoreUnavailable (after counting the failure). None when no directory is configured."""
    identities = runtime.identities
    if identities.directory is None:
        return None
    started = time.monotonic()
    try:
        report = run_sync(identities.directory, runtime.store, identities.from_directory,
                          dry_run=False, lock_ttl=SYNC_LOCK_TTL)
    except Exception:
        metrics.ldap_sync(time.monotonic() - started, "failed")
        raise
    metrics.ldap_sync_report(report)
    if not report.skipped_because_locked:
        log.info("directory sync (%s): %s", origin, report.summary())
    return report


def sync_round(runtime: Runtime) -> None:
    """One scheduled directory sync; run_sync's store lock makes it one run across instances."""
    try:
        run_directory_sync(runtime, "scheduled")
    except (DirectoryUnavailable, StoreUnavailable) as exc:
        log.warning("scheduled directory sync failed: %s", exc)


class ProcessThread:
    """A daemon thread started once per process, lazily: gunicorn forks workers after the
    app is built, and threads do not survive a fork (in the child, the parent's thread is
    simply not alive). ``ensure_started`` is cheap enough (no system call) to call on every
    request, and also restarts a thread that died."""

    def __init__(self, target: Callable[[], None], name: str):
        self.target = target
        self.name = name
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def ensure_started(self) -> None:
        thread = self._thread
        if (thread is not None and thread.is_alive()) or self._stopping.is_set():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self.target, name=self.name,
                                                 daemon=True)
                self._thread.start()

    def pause(self, seconds: float) -> bool:
        """The target's sleep between rounds; True once :meth:`stop` was called (end the loop)."""
        return self._stopping.wait(seconds)

    def stop(self, timeout: float = 5.0) -> None:
        """End the loop at its next pause, wait for it, and never start it again."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


class Housekeeper:
    """``current`` returns the runtime in force (it changes when a new configuration loads)."""

    def __init__(self, current: Callable[[], Runtime], interval: float = PURGE_INTERVAL):
        self.current = current
        self.interval = interval
        self.thread = ProcessThread(self._run, "ssomw-housekeeping")
        self.ensure_started = self.thread.ensure_started

    def _run(self) -> None:
        next_sync = time.monotonic()
        while not self.thread.pause(self.interval):
            try:
                runtime = self.current()
                purge_round(runtime)
                ldap = runtime.config["directory"].get("ldap")
                if ldap and time.monotonic() >= next_sync + ldap["sync_interval"]:
                    next_sync = time.monotonic()
                    sync_round(runtime)
            except Exception:  # never let upkeep kill the thread
                log.exception("housekeeping round failed")
