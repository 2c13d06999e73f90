"""This process's id without a system call, for checks made on every request.

gunicorn forks its workers after the app is built, so per-process state (SQLite connections,
background threads) must notice a fork; ``os.getpid()`` is a system call each time, while a
fork hook keeps this copy current.
"""

from __future__ import annotations

import os

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def current_pid() -> int:
    return _pid
