"""Child processes of the harness: :class:`ManagedProcess` (one process group and its log) and
:class:`Component`, the base of every starter (nginx, gateway, provider, Redis, slapd).

A component is a workdir, a port and one process; ``start()`` returns only once it serves (or
raises with its log and leaves nothing running), ``stop()`` returns once its port is free, so a
``restart()`` on the same port is what outage tests see as "the server came back".
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, Self

from tests.support.net import probe_http, wait_port_closed
from tests.support.patience import STARTUP


def _kill_group(proc: subprocess.Popen, grace: float = 5.0, kill: bool = False) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `grace` seconds (or SIGKILL
    at once with `kill`: a crash)."""
    if proc.poll() is not None:
        return
    steps = ((signal.SIGKILL, 5.0),) if kill else ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0))
    for sig, wait in steps:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _die_with_parent() -> None:
    """Runs in the child before exec: if the test process is SIGKILLed, the child goes too."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass


class ManagedProcess:
    """One child process in its own process group, output to a log file.

    A finaliser kills the group if the owner forgets to stop it (or the test run dies), so no
    test leaves servers behind.
    """

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    def start(self, argv: list[str], cwd: Path | None = None, env: dict | None = None, *,
              die_with_parent: bool = False) -> None:
        """Launch `argv`. `die_with_parent`: the kernel kills the child when the thread that
        started it exits (PR_SET_PDEATHSIG), so start it from one that outlives it."""
        if self.running:
            raise RuntimeError(f"{self.name} already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent if die_with_parent else None,
            )
        self._finalizer = weakref.finalize(self, _kill_group, self.proc, 2.0)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, grace: float = 5.0, kill: bool = False) -> None:
        if self.proc is not None:
            _kill_group(self.proc, grace, kill)
        if self._finalizer is not None:
            self._finalizer.detach()
        self.proc = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        """Raise with the log tail when the process has already exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}"
            )


class Watched(Protocol):
    """What a readiness wait needs of a process: ManagedProcess and Component both fit."""

    name: str

    def check_alive(self) -> None: ...

    def log_tail(self, lines: int = 40) -> str: ...


def wait_until(process: Watched, ready: Callable[[], bool], timeout: float,
               waiting_for: Callable[[], str]) -> None:
    """Poll `ready` until true; fail fast, with the log, if the process dies; on timeout raise
    TimeoutError naming ``waiting_for()``, with the log tail."""
    deadline = time.monotonic() + timeout
    while not ready():
        process.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{process.name} {waiting_for()} after {timeout:.0f}s:\n"
                               f"{process.log_tail()}")
        time.sleep(0.05)


def wait_ready(process: Watched, url: str, timeout: float = STARTUP, expect_status: int = 200,
               headers: dict | None = None) -> None:
    """Poll url until it answers expect_status; fail fast, with the log, if the process dies."""
    last = ["no answer"]

    def answered() -> bool:
        response, last[0] = probe_http(url, expect_status, headers)
        return response is not None

    wait_until(process, answered, timeout, lambda: f"not ready at {url} (last: {last[0]})")


class Component:
    """One real component on 127.0.0.1: a workdir, a port, one :class:`ManagedProcess`.

    Subclasses say how to :meth:`launch` (write the config, ``self.process.start(...)``) and how
    to :meth:`wait_ready`; :meth:`on_ready` may load data once it serves. ``start()`` of a
    running component returns it unchanged, so a fixture can make sure one runs after a test
    stopped it. Usage::

        with GatewayProcess(tmp_path / "gw", config) as gateway:
            gateway.restart()        # same port: nginx keeps pointing at it
            gateway.freeze()         # SIGSTOP: connections accepted, nothing answers
    """

    name = "component"
    log_name = "out.log"
    start_timeout = STARTUP
    stop_grace = 5.0

    def __init__(self, workdir: Path, port: int | None) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port  # freed on stop (None: nothing to wait for)
        self.process = ManagedProcess(self.name, self.workdir / self.log_name)

    # -- what each component says ---------------------------------------------------------
    def launch(self) -> None:
        """Write what the process needs and start it with ``self.process.start``."""
        raise NotImplementedError

    def wait_ready(self, timeout: float) -> None:
        """Return once the component serves; raise (with its log) otherwise."""
        raise NotImplementedError

    def on_ready(self) -> None:
        """Runs once after each start, when the component serves (e.g. load data)."""

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout: float | None = None) -> Self:
        if self.running:
            return self
        self.launch()
        try:
            self.wait_ready(self.start_timeout if timeout is None else timeout)
            self.on_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the process group (SIGTERM, or SIGKILL with `kill`: a crash) and wait until its
        port is free. Its files stay in the workdir for the next start()."""
        was_running = self.running
        self.thaw()
        self.process.stop(self.stop_grace, kill)
        if was_running and self.port is not None:
            wait_port_closed(self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop for good (what leaving the ``with`` block does)."""
        self.stop()

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, but nothing answers (a hung server).

        The stop reaches the threads one by one; until all are stopped, one may still answer,
        so this waits for every thread to show state T in /proc."""
        pid = self.pid
        if not pid:
            return
        os.kill(pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            states = []
            for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
                try:
                    states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
                except (OSError, IndexError):
                    continue
            if states and all(state in "Tt" for state in states):
                return
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} did not stop")

    def thaw(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGCONT)

    # -- state and logs ------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process.running

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process.running else None

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines)

    def check_alive(self) -> None:
        self.process.check_alive()

    def wait_for(self, ready: Callable[[], bool], timeout: float, waiting_for: str) -> None:
        """For :meth:`wait_ready`: poll `ready`, failing fast if the process exits."""
        wait_until(self, ready, timeout, lambda: waiting_for)

    def wait_url(self, url: str, timeout: float) -> None:
        """For :meth:`wait_ready`: until `url` answers 200, failing fast if the process exits."""
        wait_ready(self, url, timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} port={self.port} pid={self.pid}>"
