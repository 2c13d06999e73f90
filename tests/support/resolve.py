"""Make `*.localhost` names resolve to 127.0.0.1 inside the test process.

Chromium maps `*.localhost` to loopback itself (RFC 6761), but glibc here does not, so Python
HTTP clients could not reach `app-a.ssomw.localhost:<port>`. Patching `socket.getaddrinfo`
lets requests/httpx connect to 127.0.0.1 while sending the real Host header and following the
gateway's real redirects. Child processes (gateway, nginx) are not affected: give them
127.0.0.1 URLs for anything they must reach.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_original_getaddrinfo = socket.getaddrinfo
_lock = threading.Lock()
_depth = 0
_loopback_names: set[str] = set()  # other names sent to loopback (see loopback_names())


def is_localhost_name(host: object) -> bool:
    """True for `localhost` and any name under `.localhost` (str or bytes, any case)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def _to_loopback(host: object) -> bool:
    if is_localhost_name(host):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and host.lower().rstrip(".") in _loopback_names


def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if _to_loopback(host):
        if family == socket.AF_INET6:
            host = "::1"
        else:
            host, family = "127.0.0.1", socket.AF_INET
    return _original_getaddrinfo(host, port, family, type, proto, flags)


def install() -> None:
    """Start resolving *.localhost to loopback (nestable; undo with uninstall())."""
    global _depth
    with _lock:
        _depth += 1
        socket.getaddrinfo = _getaddrinfo


def uninstall() -> None:
    global _depth
    with _lock:
        _depth = max(0, _depth - 1)
        if _depth == 0:
            socket.getaddrinfo = _original_getaddrinfo


@contextmanager
def patch_localhost_resolution() -> Iterator[None]:
    """Context manager (or `yield from` in a fixture) resolving *.localhost to 127.0.0.1."""
    install()
    try:
        yield
    finally:
        uninstall()


@contextmanager
def loopback_names(*names: str) -> Iterator[None]:
    """Also resolve these exact names (a README's `wiki.example.com`) to loopback, in this
    process, while the block runs."""
    added = {n.lower().rstrip(".") for n in names} - _loopback_names
    with _lock:
        _loopback_names.update(added)
    install()
    try:
        yield
    finally:
        uninstall()
        with _lock:
            _loopback_names.difference_update(added)
