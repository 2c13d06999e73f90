"""Strict browser security headers on every page the gateway renders itself.

Usage::

    app = SecurityHeaders(app)

No inline script or style is allowed (CSP), pages can't be framed (clickjacking on the sign-in
and logout forms), no referrer leaks tokens in URLs, and pages are never cached.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ssomw.core.target import split_url

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)


_ORIGIN = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")


def page_csp(form_targets: Iterable[str] = ()) -> str:
    """The pages' CSP with these URLs' origins added to ``form-action``.

    Browsers apply ``form-action`` to every redirect that answers a form's POST, so a form
    whose answer goes elsewhere (sign-out, then the provider's end-session endpoint) needs
    that origin listed. Anything that is not a plain http(s) origin is left out."""
    origins = sorted({o for o in map(origin_of, form_targets) if o})
    return CSP.replace("form-action 'self';", " ".join(["form-action 'self'", *origins]) + ";")


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else None (relative: 'self')."""
    parts = split_url(url or "")
    if parts is None:
        return None
    origin = f"{parts.scheme.lower()}://{parts.netloc}"
    return origin if parts.scheme and _ORIGIN.match(origin) and "@" not in origin else None


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
