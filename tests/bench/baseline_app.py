"""The baseline for scenario (d): the least an auth_request backend can do in Python.

It only checks an HMAC-signed cookie (``<user>.<hex mac>``) and answers 200 with one identity
header or 401, under the same gunicorn settings as ``ssomw serve`` (``default_options``). The
gap between it and the real gateway is what ssomw's own work (URL parsing, policy, store read)
costs on top of the Python/gunicorn floor.

Run: ``python -m tests.bench.baseline_app 127.0.0.1:PORT WORKERS``.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ssomw.cli.serve import GatewayServer, default_options

SECRET = b"bench-baseline-secret-0123456789"
COOKIE = "ssomw_session"


def sign(user: str) -> str:
    return f"{user}.{hmac.new(SECRET, user.encode(), hashlib.sha256).hexdigest()}"


def cookie_value(header: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == COOKIE:
            return value
    return None


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    user, _, mac = (cookie_value(environ.get("HTTP_COOKIE", "")) or "").rpartition(".")
    expected = hmac.new(SECRET, user.encode(), hashlib.sha256).hexdigest()
    if user and hmac.compare_digest(mac, expected):
        start_response("200 OK", [("X-Auth-Request-User", user)])
    else:
        start_response("401 Unauthorized", [])
    return [b""]


class BaselineServer(GatewayServer):
    def load(self) -> Any:
        return app


if __name__ == "__main__":
    BaselineServer(default_options(sys.argv[1], int(sys.argv[2]))).run()
