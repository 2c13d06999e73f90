"""Session rows kept per process (ssomw/store/marks.py): fewer reads, never a stale answer.

Every write any process makes must be seen by the very next read in every other process,
because that is what makes a logout immediate on every worker and instance of one host.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ssomw.store.base import SessionRecord
from ssomw.store.marks import ChangeMarks, KeptRows
from ssomw.store.sqlite import SqliteStore
from tests.store.records import make_session
from tests.support.patience import CHILD

REPO = Path(__file__).resolve().parents[2]
fork = multiprocessing.get_context("fork")
IDLE = 1800.0


def statements(store: SqliteStore) -> list[str]:
    """Every SQL statement this thread's connection runs from now on."""
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    return seen


def test_a_kept_row_answers_again_without_reading_the_database(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    record = make_session()
    store.put_session(record, IDLE)
    seen = statements(store)
    assert store.get_session(record.id) == record
    assert len(seen) == 1
    for _ in range(5):
        assert store.get_session(record.id) == record
    assert len(seen) == 1, "the row was read again although nobody wrote it"


def _delete(store: SqliteStore, rec: SessionRecord) -> None:
    store.delete_session(rec.id)


def _delete_many(store: SqliteStore, rec: SessionRecord) -> None:
    store.delete_sessions([make_session().id, rec.id])


def _new_data(store: SqliteStore, rec: SessionRecord) -> None:
    rec.data["groups"] = ["changed"]
    store.update_session_data(rec)


def _replace(store: SqliteStore, rec: SessionRecord) -> None:
    rec.data["groups"] = ["changed"]
    store.put_session(rec, IDLE)


def _touch_to_idle_end(store: SqliteStore, rec: SessionRecord) -> None:
    store.touch_session(rec.id, time.time() - IDLE - 1, IDLE)  # deadline now in the past


def _purge_idle(store: SqliteStore, rec: SessionRecord) -> None:
    with sqlite3.connect(store.path) as conn:  # make it purgeable, then let purge find it
        conn.execute("UPDATE sessions SET last_seen = 0 WHERE id = ?", (rec.id,))
    store.purge_expired(time.time(), IDLE)


WRITES: list[tuple[Callable[[SqliteStore, SessionRecord], None], bool]] = [
    (_delete, False), (_delete_many, False), (_new_data, True), (_replace, True),
    (_touch_to_idle_end, False), (_purge_idle, False),
]  # (the write, whether the session still exists afterwards)


@pytest.mark.parametrize(("write", "survives"), WRITES, ids=[w.__name__ for w, _ in WRITES])
def test_a_write_in_another_process_is_seen_by_the_next_read(
        tmp_path: Path, write: Callable[[SqliteStore, SessionRecord], None],
        survives: bool) -> None:
    path = str(tmp_path / "s.db")
    store = SqliteStore(path)
    record = make_session()
    store.put_session(record, IDLE)
    assert store.get_session(record.id) == record  # now kept in this process

    def child() -> None:
        other = SqliteStore(path)
        write(other, other.get_session(record.id) or record)

    proc = fork.Process(target=child)
    proc.start()
    proc.join(CHILD)
    assert proc.exitcode == 0
    after = store.get_session(record.id)
    if survives:
        assert after is not None and after.data["groups"] == ["changed"]
    else:
        assert after is None


def test_a_revocation_by_a_fresh_interpreter_is_seen_at_once(tmp_path: Path) -> None:
    """The CLI (`ssomw sessions revoke`) runs with its own hash seed: marks must not use
    Python's per-process hash()."""
    path = str(tmp_path / "s.db")
    store = SqliteStore(path)
    records = [make_session(f"u{i}") for i in range(20)]
    for record in records:
        store.put_session(record, IDLE)
        assert store.get_session(record.id) is not None
    code = ("import sys; from ssomw.store.sqlite import SqliteStore; "
            "SqliteStore(sys.argv[1]).delete_sessions(sys.argv[2:])")
    subprocess.run([sys.executable, "-c", code, path, *(r.id for r in records)], check=True,
                   cwd=REPO, env={**os.environ, "PYTHONHASHSEED": "12345"}, timeout=30)
    assert [store.get_session(r.id) for r in records] == [None] * len(records)


def test_a_write_that_never_marked_is_seen_within_max_age(tmp_path: Path) -> None:
    """A writer killed between its commit and its mark: the kept row ages out."""
    store = SqliteStore(str(tmp_path / "s.db"))
    record = make_session()
    store.put_session(record, IDLE)
    assert store.get_session(record.id) is not None
    assert store._kept is not None
    store._kept.max_age = 0.2
    with sqlite3.connect(store.path) as conn:
        conn.execute("DELETE FROM sessions WHERE id = ?", (record.id,))
    started = time.monotonic()
    while store.get_session(record.id) is not None:
        assert time.monotonic() - started < 1.0, "the kept row outlived max_age"
        time.sleep(0.01)


def test_a_kept_row_still_ends_at_its_deadline(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    record = make_session(life=0.3)
    store.put_session(record, IDLE)
    seen = statements(store)
    assert store.get_session(record.id) is not None
    time.sleep(0.35)
    assert store.get_session(record.id) is None
    assert len(seen) == 1, "expiry must come from the kept row, without a read"


def test_without_a_marks_file_every_read_goes_to_the_database(tmp_path: Path, caplog) -> None:
    path = tmp_path / "s.db"
    (tmp_path / "s.db.marks").mkdir()  # cannot be opened as a file
    store = SqliteStore(str(path))
    record = make_session()
    store.put_session(record, IDLE)
    assert "every session read goes to the database" in caplog.text
    seen = statements(store)
    for _ in range(3):
        assert store.get_session(record.id) == record
    assert len(seen) == 3


def test_marks_file_is_private(tmp_path: Path) -> None:
    SqliteStore(str(tmp_path / "s.db")).ping()
    assert (tmp_path / "s.db.marks").stat().st_mode & 0o777 == 0o600


def test_kept_rows_are_bounded_and_a_missing_row_is_forgotten(tmp_path: Path) -> None:
    kept: KeptRows[str] = KeptRows(ChangeMarks(str(tmp_path / "m")), size=3)
    for name in "abcd":
        note, row = kept.get(name)
        assert row is None
        kept.keep(name, note, name.upper())
    assert [kept.get(n)[1] for n in "abcd"] == [None, None, None, "D"]
    note, _ = kept.get("d")
    kept.keep("d", note, None)
    assert kept.get("d")[1] is None
