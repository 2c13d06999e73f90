"""Change marks: lets each worker keep the session rows it read and still see every write.

The auth hot path reads one session row per request. Reading it from SQLite costs more than
the rest of the decision (measured inside real gunicorn workers), and the same few sessions
are read again and again. Keeping rows in the worker is only correct if a write by *any*
process on the host (another worker, another gateway instance, ``ssomw sessions revoke``) is
seen by the next request, since a logout must take effect at once.

So every writer, after its write commits, puts a fresh random value into a small file that all
processes map into memory (``<database>.marks``): one slot per hash of the session id, plus one
slot for writes that touch many sessions at once (purge). A reader notes the two slots of a
session *before* reading its row and keeps the row with that note; the kept row is used again
only while both slots still hold the same values. A write that committed after the read
changed a slot, so the next request reads the row again. Reading the note is two memory loads
and a comparison: no system call, no lock.

A writer killed between its commit and its mark cannot leave a stale row in use for long:
kept rows are also dropped after ``max_age`` seconds (1 s, the same bound as nginx's decision
cache). Values are random, never counters, so two writers racing on one slot cannot restore a
value a reader kept; a torn 8-byte read can only look *different*, which costs one re-read.
The file lives next to the database, so it is shared by exactly the processes that share the
database: SQLite is a one-host store, and several hosts use Redis (no marks; every read goes
to Redis).
"""

from __future__ import annotations

import mmap
import os
import time
import zlib
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

# The layout (slot count, width, hash) is shared by every process using the file: processes
# that disagree on it (a rolling upgrade that changed it) miss each other's marks and fall
# back on the max_age bound, as does a process whose file was deleted and made anew.
SLOTS = 4096
_WIDTH = 8
_SIZE = _WIDTH * (SLOTS + 1)  # slot 0: changes to many sessions at once


def slot_of(session_id: str) -> int:
    """The byte offset of a session's slot. A stable hash: every process, whatever its
    PYTHONHASHSEED (the CLI, other instances), must pick the same slot."""
    return _WIDTH * (1 + zlib.crc32(session_id.encode("utf-8", "surrogatepass")) % SLOTS)


class ChangeMarks:
    """The shared file of marks; raises OSError when it cannot be created or mapped."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)  # zero-filled; racing creators agree on the size
            # Give every page its disk block now: a page of a sparse file first written
            # through the map on a full disk is a SIGBUS that kills the worker, not an error.
            os.posix_fallocate(fd, 0, _SIZE)
            self._map = mmap.mmap(fd, _SIZE)  # MAP_SHARED: one copy for every process
        finally:
            os.close(fd)

    def note(self, session_id: str) -> bytes:
        """The current marks of one session; take it before reading the session's row."""
        at = slot_of(session_id)
        marks = self._map
        return marks[0:_WIDTH] + marks[at:at + _WIDTH]

    def changed(self, session_ids: Iterable[str]) -> None:
        """Call after a write to these sessions has committed (or may have)."""
        marks = self._map
        for at in {slot_of(session_id) for session_id in session_ids}:
            marks[at:at + _WIDTH] = os.urandom(_WIDTH)

    def changed_all(self) -> None:
        """Call after a write that may have touched any session."""
        self._map[0:_WIDTH] = os.urandom(_WIDTH)

    def close(self) -> None:
        self._map.close()


class KeptRows(Generic[T]):
    """Rows a process read, each kept with the marks noted before it was read (bounded)."""

    def __init__(self, marks: ChangeMarks, max_age: float = 1.0, size: int = 16384) -> None:
        self.marks = marks
        self.max_age = max_age
        self.size = size
        self._rows: dict[str, tuple[bytes, float, T]] = {}

    def get(self, session_id: str) -> tuple[bytes, T | None]:
        """``(note, row)``: the kept row if still current, else None and the note to pass
        to :meth:`keep` along with the row read now."""
        note = self.marks.note(session_id)
        kept = self._rows.get(session_id)
        if kept is not None and kept[0] == note and time.monotonic() - kept[1] < self.max_age:
            return note, kept[2]
        return note, None

    def keep(self, session_id: str, note: bytes, row: T | None) -> None:
        if row is None:
            self._rows.pop(session_id, None)
            return
        if len(self._rows) >= self.size:
            self._rows.clear()  # simple and bounded; refilling costs one read per session
        self._rows[session_id] = (note, time.monotonic(), row)

    def clear(self) -> None:
        self._rows.clear()
