"""SQLite specifics: files and permissions, fail-closed paths, locks, threads and fork()."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ssomw.store import Store, StoreUnavailable
from ssomw.store.sqlite import _GET, SqliteStore
from tests.store.records import EVERY_METHOD, make_session
from tests.support.patience import CHILD

fork = multiprocessing.get_context("fork")


def test_creates_parent_dirs_private_file_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ssomw.db"
    SqliteStore(str(path)).ping()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_get_session_is_a_primary_key_lookup(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    store.ping()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + _GET, ("x",)))
    assert "SEARCH sessions USING INDEX sqlite_autoindex_sessions_1 (id=?)" in plan


def _directory(tmp_path: Path) -> Path:
    (tmp_path / "db").mkdir()
    return tmp_path / "db"


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("x")
    return tmp_path / "file" / "ssomw.db"


def _not_a_database(tmp_path: Path) -> Path:
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 512)
    return tmp_path / "junk.db"


@pytest.mark.parametrize("call", EVERY_METHOD)
@pytest.mark.parametrize("bad_path", [_directory, _under_a_file, _not_a_database])
def test_unusable_path_fails_closed(
    tmp_path: Path, bad_path: Callable[[Path], Path], call: Callable[[Store], Any]
) -> None:
    store = SqliteStore(str(bad_path(tmp_path)))
    with pytest.raises(StoreUnavailable):
        call(store)


def _open_as_nobody(path: str, out: Any) -> None:
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)  # root reads any file; an ordinary user does not
    try:
        SqliteStore(path).get_session("x")
        out.put("no error")
    except StoreUnavailable:
        out.put("unavailable")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put(repr(exc))


def test_unreadable_file_fails_closed() -> None:
    with tempfile.TemporaryDirectory() as folder:  # world-traversable, unlike tmp_path
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "s.db")
        SqliteStore(path).ping()
        os.chmod(path, 0)
        out = fork.Queue()
        proc = fork.Process(target=_open_as_nobody, args=(path, out))
        proc.start()
        proc.join(CHILD)
        assert out.get(timeout=CHILD) == "unavailable"


def test_store_recovers_once_the_path_is_usable(tmp_path: Path) -> None:
    blocker = _directory(tmp_path)
    store = SqliteStore(str(blocker))
    with pytest.raises(StoreUnavailable):
        store.ping()
    blocker.rmdir()
    store.kv_set("n", "k", b"v", 60)
    assert store.kv_get("n", "k") == b"v"


def test_locked_database_fails_writes_closed_but_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(str(path), busy_timeout=0.2)
    rec = make_session()
    store.put_session(rec, 60)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="locked"):
            store.kv_set("n", "k", b"v", 60)
        assert time.monotonic() - started < 2
        assert store.get_session(rec.id) == rec  # WAL: readers are not blocked by a writer
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    store.kv_set("n", "k", b"v", 60)


def test_threads_share_one_store(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                rec = make_session(threading.current_thread().name)
                store.put_session(rec, 60)
                assert store.get_session(rec.id) == rec
                store.incr("n", "c", 60)
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, name=f"t{i}") for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.kv_get("n", "c") == b"160"


def _child_uses_inherited_store(store: SqliteStore, session_id: str, out: Any) -> None:
    found = store.get_session(session_id)
    child = make_session("child")
    store.put_session(child, 60)
    out.put((found is not None and found.id == session_id, child.id))


def test_forked_worker_uses_store_created_before_fork(tmp_path: Path) -> None:
    """gunicorn creates the app, then forks workers: the child must not reuse our connection."""
    store = SqliteStore(str(tmp_path / "s.db"))
    rec = make_session()
    store.put_session(rec, 60)
    out = fork.Queue()
    proc = fork.Process(target=_child_uses_inherited_store, args=(store, rec.id, out))
    proc.start()
    saw_parent_session, child_id = out.get(timeout=CHILD)
    proc.join(CHILD)
    assert proc.exitcode == 0 and saw_parent_session
    assert store.get_session(child_id) is not None  # parent still fine, sees the child's write
    store.put_session(make_session("parent-again"), 60)


def _child_races(store: SqliteStore, out: Any) -> None:
    won = store.kv_add("jti", "once", b"x", 60)
    for _ in range(50):
        store.incr("n", "c", 60)
    out.put(won)


def test_atomic_operations_across_processes(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    store.ping()
    out = fork.Queue()
    procs = [fork.Process(target=_child_races, args=(store, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=CHILD) for _ in procs]
    for p in procs:
        p.join(CHILD)
    assert results.count(True) == 1
    assert store.kv_get("n", "c") == b"200"


def test_set_many_is_all_or_nothing_for_readers(tmp_path: Path) -> None:
    """Directory sync rewrites every entry; a reader sees the old set or the new, never a mix."""
    writer, reader = SqliteStore(str(tmp_path / "s.db")), SqliteStore(str(tmp_path / "s.db"))
    keys = [f"user{i:04d}" for i in range(1000)]
    writer.kv_set_many("dir", dict.fromkeys(keys, b"0"), None)
    done = threading.Event()

    def write() -> None:
        for version in range(1, 30):
            writer.kv_set_many("dir", dict.fromkeys(keys, str(version).encode()), None)
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    seen: set[frozenset[bytes]] = set()
    while not done.is_set():
        seen.add(frozenset(value for _, value in reader.kv_items("dir")))
    thread.join()
    assert {len(values) for values in seen} == {1}
    assert reader.kv_items("dir")[-1] == ("user0999", b"29")
