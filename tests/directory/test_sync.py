"""run_sync against the real slapd and a real (sqlite) store: counts, lock, failures, progress."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssomw.directory import Directory, DirectoryUnavailable, DirectoryUser
from ssomw.directory.sync import LOCK, SyncReport, last_report, render_progress, run_sync
from ssomw.store.sqlite import SqliteStore
from tests.support.slapd import Slapd, directory_settings

USERS = 11  # in tests/data/ldap/base.ldif
GROUP_NAMES = 6  # backend, engineering, staff, g1, g2, sso-admins (other/devs are filtered out)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "store.db"))
    yield s
    s.close()


def handler(changes: dict[str, tuple[int, int]], seen: list[str] | None = None):
    def handle(user: DirectoryUser) -> tuple[int, int]:
        if seen is not None:
            seen.append(user.username)
        return changes.get(user.username, (0, 0))

    return handle


def test_counts(directory: Directory, store: SqliteStore) -> None:
    seen: list[str] = []
    report = run_sync(directory, store, handler({"alice": (1, 0), "bob": (0, 2)}, seen),
                      dry_run=False, progress=None, lock_ttl=60)
    assert (report.users_seen, report.groups_seen, report.users_changed) == (USERS, GROUP_NAMES, 2)
    assert (report.groups_added, report.groups_removed, report.errors) == (1, 2, 0)
    assert not report.skipped_because_locked and report.duration > 0
    assert len(seen) == USERS
    assert store.kv_get(*LOCK) is None  # released
    assert last_report(store) == report


def test_progress_reports_every_user_against_the_total(directory: Directory, store) -> None:
    calls: list[tuple[int, int | None]] = []
    run_sync(directory, store, handler({}), dry_run=False,
             progress=lambda done, total: calls.append((done, total)), lock_ttl=60)
    assert calls == [(n, USERS) for n in range(1, USERS + 1)]


def test_a_held_lock_skips_the_run(directory: Directory, store: SqliteStore) -> None:
    assert store.kv_add(*LOCK, b"other-instance", 60)
    seen: list[str] = []
    report = run_sync(directory, store, handler({}, seen), dry_run=False, progress=None,
                      lock_ttl=60)
    assert report.skipped_because_locked and seen == []
    assert store.kv_get(*LOCK) == b"other-instance"  # not ours to release
    assert last_report(store) is None


def test_concurrent_runs_one_skipped(directory: Directory, store: SqliteStore) -> None:
    inside, release = threading.Event(), threading.Event()
    reports: list[SyncReport] = []

    def slow(user: DirectoryUser) -> tuple[int, int]:
        inside.set()
        release.wait(10)
        return 0, 0

    first = threading.Thread(target=lambda: reports.append(
        run_sync(directory, store, slow, dry_run=False, progress=None, lock_ttl=60)))
    first.start()
    assert inside.wait(10)
    second = run_sync(directory, store, handler({}), dry_run=False, progress=None, lock_ttl=60)
    release.set()
    first.join(10)
    assert second.skipped_because_locked
    assert reports[0].users_seen == USERS and not reports[0].skipped_because_locked
    third = run_sync(directory, store, handler({}), dry_run=False, progress=None, lock_ttl=60)
    assert not third.skipped_because_locked  # the first run released the lock


def test_long_run_keeps_renewing_its_lock(directory: Directory, store: SqliteStore) -> None:
    stolen: list[bool] = []

    def slow(user: DirectoryUser) -> tuple[int, int]:
        time.sleep(0.1)
        stolen.append(store.kv_add(*LOCK, b"intruder", 60))
        return 0, 0

    run_sync(directory, store, slow, dry_run=False, progress=None, lock_ttl=0.6)
    assert len(stolen) == USERS and not any(stolen)  # the run lasts > 1 s, ttl 0.6 s


def test_dry_run_takes_no_lock_and_saves_no_report(directory: Directory, store) -> None:
    assert store.kv_add(*LOCK, b"real-run", 60)
    report = run_sync(directory, store, handler({"carol": (2, 0)}), dry_run=True,
                      progress=None, lock_ttl=60)
    assert report.dry_run and report.users_changed == 1 and report.users_seen == USERS
    assert "would change 1 users" in report.summary()
    assert store.kv_get(*LOCK) == b"real-run" and last_report(store) is None


def test_handler_failure_is_counted_and_the_run_goes_on(directory: Directory, store) -> None:
    def flaky(user: DirectoryUser) -> tuple[int, int]:
        if user.username == "bob":
            raise ValueError("bad entry")
        return 1, 0

    report = run_sync(directory, store, flaky, dry_run=False, progress=None, lock_ttl=60)
    assert (report.errors, report.users_changed, report.users_seen) == (1, USERS - 1, USERS)


def test_directory_outage_ends_the_run_and_releases_the_lock(own_slapd: Slapd, store) -> None:
    directory = Directory(directory_settings(own_slapd, timeout=1))
    own_slapd.stop()
    with pytest.raises(DirectoryUnavailable):
        run_sync(directory, store, handler({}), dry_run=False, progress=None, lock_ttl=60)
    assert store.kv_get(*LOCK) is None and last_report(store) is None


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    assert render_progress(io.StringIO()) is None
    terminal = FakeTerminal()
    bar = render_progress(terminal)
    assert bar is not None
    bar(5, 10)
    bar(10, 10)
    bar.close()
    out = terminal.getvalue()
    assert "5/10 users (50%)" in out and out.endswith("10/10 users (100%)\n")


@pytest.mark.parametrize("member_of", [False, True], ids=["member-attr", "memberOf"])
def test_next_run_sees_directory_changes(own_slapd: Slapd, store, member_of: bool) -> None:
    directory = Directory(directory_settings(own_slapd, member_of=member_of))
    known: dict[str, set[str]] = {}

    def diff(user: DirectoryUser) -> tuple[int, int]:
        before, after = known.get(user.username, set()), set(user.groups)
        known[user.username] = after
        return len(after - before), len(before - after)

    run_sync(directory, store, diff, dry_run=False, progress=None, lock_ttl=60)
    own_slapd.modify(
        "dn: cn=engineering,ou=groups,dc=example,dc=com\nchangetype: modify\n"
        "delete: member\nmember: uid=alice,ou=people,dc=example,dc=com\n\n"
        "dn: cn=sso-admins,ou=groups,dc=example,dc=com\nchangetype: modify\n"
        "add: member\nmember: cn=backend,ou=groups,dc=example,dc=com\n"
    )
    report = run_sync(directory, store, diff, dry_run=False, progress=None, lock_ttl=60)
    assert (report.users_changed, report.groups_added, report.groups_removed) == (2, 1, 2)
    assert known["alice"] == set()
    assert known["carol"] == {"backend", "engineering", "staff", "sso-admins"}
