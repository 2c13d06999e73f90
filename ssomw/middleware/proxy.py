"""Believe ``X-Forwarded-*`` only from configured proxies (trust is explicit, default none).

Usage::

    app = TrustedProxies(app, trusted=parse_networks(["127.0.0.1/32"]))
    TrustedProxies(None, trusted).client_ip(environ)  # only the address, environ untouched

For a trusted peer, ``REMOTE_ADDR`` becomes the client address found by walking
``X-Forwarded-For`` from the right, and ``X-Forwarded-Proto``/``-Host`` set the scheme and host.
The original values are kept under ``environ["ssomw.proxy.orig"]``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from ssomw.core.networks import client_address, in_networks, parse_address


class TrustedProxies:
    def __init__(self, app: Any, trusted: tuple[Any, ...]):
        self.app = app
        self.trusted = trusted
        # Pure functions of their inputs, called on every request with few distinct values
        # (nginx is the peer; clients repeat): memoized per middleware, bounded.
        self._trusted_peer = functools.lru_cache(maxsize=256)(self._is_trusted)
        self._client = functools.lru_cache(maxsize=8192)(
            lambda peer, forwarded: client_address(peer, forwarded, self.trusted))

    def _is_trusted(self, peer: str) -> bool:
        address = parse_address(peer)
        return address is not None and in_networks(address, self.trusted)

    def is_trusted(self, peer: str) -> bool:
        """Whether ``peer`` (an address as ``REMOTE_ADDR`` gives it) is a trusted proxy."""
        return bool(self.trusted) and self._trusted_peer(peer)

    def client_ip(self, environ: dict[str, Any]) -> str:
        """The client's address, leaving ``environ`` as it is (for the auth endpoint, which
        needs it only when a rule looks at networks)."""
        peer = environ.get("REMOTE_ADDR", "")
        if self.trusted and self._trusted_peer(peer):
            return self._client(peer, environ.get("HTTP_X_FORWARDED_FOR"))
        return peer

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "")
        if self.trusted and self._trusted_peer(peer):
            environ["ssomw.proxy.orig"] = {
                "REMOTE_ADDR": peer, "wsgi.url_scheme": environ.get("wsgi.url_scheme"),
                "HTTP_HOST": environ.get("HTTP_HOST"),
            }
            environ["REMOTE_ADDR"] = self._client(peer, environ.get("HTTP_X_FORWARDED_FOR"))
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
            if host:
                environ["HTTP_HOST"] = host
        return self.app(environ, start_response)
