"""A small file system of its own (tmpfs) that a test can fill: the store's disk is full.

Needs root (``mount``), as the tests run here and in CI; elsewhere the test is skipped (a
failure under ``CI=true``, see require.py). Always unmounted by the ``with`` block's end.

    with SmallDisk(tmp_path / "disk") as disk:
        store_path = disk.path / "ssomw.db"
        ...
        disk.fill()      # every write that needs new space now fails (ENOSPC)
        disk.free()      # and works again
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType

from tests.support.require import unavailable

FILLER = "filler"


class SmallDisk:
    def __init__(self, path: Path, size: str = "8M") -> None:
        self.path = path
        self.size = size
        self.mounted = False

    def __enter__(self) -> SmallDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755",
                               "tmpfs", str(self.path)], capture_output=True, text=True)
        if done.returncode != 0:
            unavailable(f"cannot mount a small tmpfs: {done.stderr.strip() or done.returncode}")
        self.mounted = True
        return self

    def fill(self) -> None:
        """Take every free block (writes already in flight may still find a partial page)."""
        fd = os.open(self.path / FILLER, os.O_CREAT | os.O_WRONLY | os.O_APPEND)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                os.write(fd, b"\0")
        except OSError:
            pass
        finally:
            os.close(fd)

    def free(self) -> None:
        (self.path / FILLER).unlink(missing_ok=True)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
            self.mounted = False
