"""Strict browser security headers on every page the gateway renders itself.

Usage::

    app = SecurityHeaders(app)

No inline script or style is allowed (CSP), pages can't be framed (clickjacking on the sign-in
and logout forms), no referrer leaks tokens in URLs, and pages are never cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)


class SecurityHeaders:
    def __init__(self, app: Any, cache_control: str = "no-store"):
        self.app = app
        self.cache_control = cache_control

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            # A page that sets its own CSP (the front-channel logout iframe) chooses its own
            # framing rule; X-Frame-Options would contradict its frame-ancestors.
            own_csp = "content-security-policy" in present
            headers.extend(h for h in HEADERS if h[0].lower() not in present
                           and not (own_csp and h[0] == "X-Frame-Options"))
            if "cache-control" not in present:
                headers.append(("Cache-Control", self.cache_control))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
