"""Believe ``X-Forwarded-*`` only from configured proxies (trust is explicit, default none).

Usage::

    app = TrustedProxies(app, trusted=parse_networks(["127.0.0.1/32"]))

For a trusted peer, ``REMOTE_ADDR`` becomes the client address found by walking
``X-Forwarded-For`` from the right, and ``X-Forwarded-Proto``/``-Host`` set the scheme and host.
The original values are kept under ``environ["ssomw.proxy.orig"]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.networks import client_address, in_networks, parse_address


class TrustedProxies:
    def __init__(self, app: Any, trusted: tuple[Any, ...]):
        self.app = app
        self.trusted = trusted

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "")
        address = parse_address(peer)
        if address is not None and self.trusted and in_networks(address, self.trusted):
            environ["ssomw.proxy.orig"] = {
                "REMOTE_ADDR": peer, "wsgi.url_scheme": environ.get("wsgi.url_scheme"),
                "HTTP_HOST": environ.get("HTTP_HOST"),
            }
            environ["REMOTE_ADDR"] = client_address(
                peer, environ.get("HTTP_X_FORWARDED_FOR"), self.trusted)
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
            host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
            if host:
                environ["HTTP_HOST"] = host
        return self.app(environ, start_response)
