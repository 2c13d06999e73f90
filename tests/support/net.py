"""Ports, readiness checks and child processes shared by the process harness."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import weakref
from pathlib import Path

import requests


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now.

    The kernel picks it (bind to port 0), so parallel test workers do not collide; the small
    window until the real server binds it is acceptable for tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Wait until host:port accepts connections, else raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while not port_open(port, host):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")
        time.sleep(0.05)


def wait_port_closed(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Wait until nothing listens on host:port any more (a stopped server really freed it)."""
    deadline = time.monotonic() + timeout
    while port_open(port, host):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} still accepts connections after {timeout:.0f}s")
        time.sleep(0.05)


def wait_http(
    url: str, timeout: float = 20.0, expect_status: int | None = None
) -> requests.Response:
    """Poll url until it answers (with expect_status when given); return the last response.

    Raises TimeoutError naming the last status or connection error.
    """
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            response = requests.get(url, timeout=2, allow_redirects=False)
            if expect_status is None or response.status_code == expect_status:
                return response
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout:.0f}s (last: {last})")
        time.sleep(0.1)


def _kill_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `grace` seconds."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


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

    def start(self, argv: list[str], cwd: Path | None = None, env: dict | None = None) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._finalizer = weakref.finalize(self, _kill_group, self.proc, 2.0)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, grace: float = 5.0) -> None:
        if self.proc is not None:
            _kill_group(self.proc, grace)
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


def wait_ready(
    process: ManagedProcess, url: str, timeout: float = 20.0, expect_status: int = 200,
    headers: dict | None = None,
) -> None:
    """Poll url until it answers expect_status; fail fast, with the log, if the process dies."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        process.check_alive()
        try:
            response = requests.get(url, timeout=2, allow_redirects=False, headers=headers)
            if response.status_code == expect_status:
                return
            last = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{process.name} not ready at {url} after {timeout:.0f}s (last: {last}):\n"
                f"{process.log_tail()}"
            )
        time.sleep(0.1)
