"""Ports and network readiness checks shared by the harness (processes: process.py)."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import requests

from tests.support.patience import PORT_RELEASE, STARTUP

# Ports handed out for test servers lie below the kernel's ephemeral range, where outgoing
# connections take their source ports: a port picked from that range (bind to port 0) could be
# taken by any client socket before the server binds it, which happened (EADDRINUSE at start).
PORTS_FROM = 15000
_pick = random.SystemRandom()  # not the seeded `random`: parallel workers must not agree
# Ports this process already handed out: a port chosen now is often bound only later (a
# cluster's three nodes and bus ports are all chosen before the first node starts), so a
# later pick must not return one that is still free only because its server is not up yet.
_handed_out: set[int] = set()


def ephemeral_low(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> int:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on host (loopback) right now.

    Random among the ports below the ephemeral range (checked by binding it), so neither a
    parallel test worker nor an outgoing connection is likely to take it before the real
    server binds it, and not one this process handed out recently; the kernel's choice
    (port 0) when that range is too small.
    """
    low = ephemeral_low()
    if len(_handed_out) > (low - PORTS_FROM) // 2:
        _handed_out.clear()
    for _ in range(200 if low - PORTS_FROM >= 1000 else 0):
        port = _pick.randrange(PORTS_FROM, low)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
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


def wait_port_closed(port: int, timeout: float = PORT_RELEASE, host: str = "127.0.0.1") -> None:
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
    url: str, timeout: float = STARTUP, expect_status: int | None = None
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
