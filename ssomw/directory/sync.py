"""One directory sync run: every user through a handler, once across all gateway instances.

What a user's groups *mean* locally (mapping, filters, protected groups) is the caller's
``handle_user``; this module only walks the directory, holds the store lock, counts and
reports. Dry runs take no lock: they change nothing, so they neither block nor wait for a
real run.

    report = run_sync(directory, store, handle_user, dry_run=False,
                      progress=render_progress(), lock_ttl=3600)
    print(report.summary())
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TextIO

from ssomw.directory.ldap import Directory, DirectoryUser
from ssomw.store.base import Store, StoreUnavailable

log = logging.getLogger(__name__)

LOCK = ("lock", "directory-sync")
LAST_REPORT = ("directory-sync", "last-report")

Handler = Callable[[DirectoryUser], tuple[int, int]]  # -> (groups added, groups removed)
Progress = Callable[[int, int | None], None]  # (users done, users total or None)


@dataclass
class SyncReport:
    users_seen: int = 0
    groups_seen: int = 0  # distinct directory group names among the users
    users_changed: int = 0
    groups_added: int = 0
    groups_removed: int = 0
    errors: int = 0  # users whose handler raised (logged, the run goes on)
    duration: float = 0.0
    skipped_because_locked: bool = False
    dry_run: bool = False
    finished_at: float = 0.0  # epoch seconds

    def summary(self) -> str:
        if self.skipped_because_locked:
            return "directory sync skipped: another run holds the lock"
        verb = "would change" if self.dry_run else "changed"
        return (
            f"{self.users_seen} users, {self.groups_seen} groups seen; {verb} "
            f"{self.users_changed} users (+{self.groups_added} / -{self.groups_removed} "
            f"memberships); {self.errors} errors; {self.duration:.1f} s"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def run_sync(
    directory: Directory,
    store: Store,
    handle_user: Handler,
    *,
    dry_run: bool,
    progress: Progress | None = None,
    lock_ttl: float = 3600.0,
) -> SyncReport:
    """Walk every directory user through ``handle_user``; see the module docstring.

    DirectoryUnavailable and StoreUnavailable end the run (the lock is released); any other
    exception from the handler is logged and counted for that user only. The lock is renewed
    while the run lasts, so a run longer than ``lock_ttl`` is not joined by a second one.
    """
    started = time.monotonic()
    report = SyncReport(dry_run=dry_run)
    token = secrets.token_bytes(16)
    if not dry_run and not store.kv_add(*LOCK, token, lock_ttl):
        report.skipped_because_locked = True
        return report
    try:
        total = directory.count_users() if progress else None
        groups: set[str] = set()
        renewed = time.monotonic()
        for user in directory.iter_users():
            report.users_seen += 1
            groups.update(user.groups)
            try:
                added, removed = handle_user(user)
            except StoreUnavailable:
                raise
            except Exception:  # noqa: BLE001 - one bad entry must not stop the whole sync
                log.exception("directory sync: handling %s failed", user.dn)
                report.errors += 1
                added = removed = 0
            report.groups_added += added
            report.groups_removed += removed
            report.users_changed += bool(added or removed)
            if progress:
                progress(report.users_seen, total)
            if not dry_run and time.monotonic() - renewed > lock_ttl / 3:
                store.kv_set(*LOCK, token, lock_ttl)
                renewed = time.monotonic()
        report.groups_seen = len(groups)
    finally:
        report.duration = time.monotonic() - started
        report.finished_at = time.time()
        if not dry_run:
            _release(store, token)
    if not dry_run:
        store.kv_set(*LAST_REPORT, json.dumps(report.as_dict()).encode(), None)
    return report


def last_report(store: Store) -> SyncReport | None:
    """The report of the last completed (not dry) run, for status pages and the API."""
    raw = store.kv_get(*LAST_REPORT)
    return SyncReport(**json.loads(raw)) if raw else None


def _release(store: Store, token: bytes) -> None:
    """Delete the lock only if it is still ours (it may have expired and been retaken)."""
    try:
        if store.kv_get(*LOCK) == token:
            store.kv_delete(*LOCK)
    except StoreUnavailable:
        log.warning("directory sync: could not release the lock; it expires by itself")


class ProgressBar:
    """A one-line terminal bar, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._drawn = 0.0
        self._width = max(10, min(40, shutil.get_terminal_size().columns - 40))

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.1 and done != total:
            return
        self._drawn = now
        if total:
            filled = min(self._width, self._width * done // total)
            bar = "#" * filled + "-" * (self._width - filled)
            line = f"\r[{bar}] {done}/{total} users ({100 * done // total}%)"
        else:
            line = f"\r{done} users"
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def render_progress(stream: TextIO | None = None) -> ProgressBar | None:
    """A progress callback for run_sync, or None when the output is not a terminal (cron, logs)."""
    stream = stream or sys.stdout
    return ProgressBar(stream) if stream.isatty() else None
