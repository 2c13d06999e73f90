"""Ports and network readiness checks shared by the harness (processes: process.py)."""

from __future__ import annotations

import socket
import time

import requests


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on host (loopback) right now.

    The kernel picks it (bind to port 0), so parallel test workers do not collide; the small
    window until the real server binds it is acceptable for tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port_closed(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Wait until nothing listens on host:port any more (a stopped server really freed it)."""
    deadline = time.monotonic() + timeout
    while port_open(port, host):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} still accepts connections after {timeout:.0f}s")
        time.sleep(0.05)


def probe_http(
    url: str, expect_status: int | None = None, headers: dict | None = None
) -> tuple[requests.Response | None, str]:
    """One GET of url: (the response if it has expect_status, or any status when None; what
    was seen, for error messages: ``HTTP 502`` or the connection error's name)."""
    try:
        response = requests.get(url, timeout=2, allow_redirects=False, headers=headers)
    except requests.RequestException as exc:
        return None, type(exc).__name__
    ok = expect_status is None or response.status_code == expect_status
    return (response if ok else None), f"HTTP {response.status_code}"


def wait_http(
    url: str, timeout: float = 20.0, expect_status: int | None = None
) -> requests.Response:
    """Poll url until it answers (with expect_status when given); return the last response.

    Raises TimeoutError naming the last status or connection error.
    """
    deadline = time.monotonic() + timeout
    while True:
        response, last = probe_http(url, expect_status)
        if response is not None:
            return response
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout:.0f}s (last: {last})")
        time.sleep(0.1)
