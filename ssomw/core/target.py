"""What the proxy tells the gateway about the original request: its URL and its cookies.

Both are parsed exactly as the proxy itself reads them, because a decision about another
reading than the proxy's is a decision about another request: nginx picks the ``server {}`` by
the request-line host, keys its decision cache on ``$cookie_<name>``, and both must name what
the gateway judged.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ssomw.core.memo import Memo

MAX_URL = 8192
# The usual X-Original-URL ($scheme://$http_host$request_uri): plain ASCII authority without
# userinfo, nothing urlsplit would strip or remove. Anything else goes through urlsplit.
_USUAL_URL = re.compile(r"(https?)://([-a-zA-Z0-9.:\[\]]+)((?:/[^?#\x00-\x20\x7f]*)?)")


class UrlParts(NamedTuple):
    """A URL's parts as :func:`split_url` read them (``host`` lower case, no brackets)."""

    scheme: str
    netloc: str
    host: str
    port: int | None
    path: str
    query: str


def split_url(text: object, limit: int = MAX_URL) -> UrlParts | None:
    """``urlsplit`` for any URL a client sent (``rd``, ``X-Original-URL``, a ``Host``...),
    that cannot raise: None for what it cannot read (not a string, longer than ``limit``, an
    unclosed ``[``, a port that is not a number), which every caller treats like an unsafe
    redirect. ``urlsplit`` itself raises ValueError on those, and a page that works out its
    app from a hostile ``rd`` must not answer 500 (nor its error page fail the same way)."""
    if not isinstance(text, str) or len(text) > limit:
        return None
    try:
        parts = urlsplit(text)
        host, port = parts.hostname or "", parts.port  # .port raises for a malformed port
    except ValueError:
        return None
    return UrlParts(parts.scheme, parts.netloc, host, port, parts.path, parts.query)


class Target(NamedTuple):
    """The original request's URL, as the decision needs it."""

    scheme: str
    host: str  # as urlsplit's .hostname gives it: lower case, no brackets
    port: int | None
    path: str


def split_target(original: str, authorities: Memo[str, Any]) -> Target | None:
    """``urlsplit`` for X-Original-URL, or None for a URL to refuse (bad scheme, no host, bad
    port, too long). The usual form is split by one regex, and each distinct authority is
    parsed once (``authorities`` is the caller's memo); the result is the same either way."""
    if len(original) > MAX_URL:
        return None
    usual = _USUAL_URL.match(original)
    if usual is None or (usual.end() < len(original) and original[usual.end()] not in "?#"):
        return _split_unusual(original)
    scheme, authority, path = usual.groups()
    host_port = authorities.get(authority)
    if host_port is None:
        target = _split_unusual(f"{scheme}://{authority}")
        host_port = authorities.put(authority, (target.host, target.port) if target else False)
    if not host_port:
        return None
    return Target(scheme, host_port[0], host_port[1], path)


def _split_unusual(original: str) -> Target | None:
    parts = split_url(original)
    if parts is None or parts.scheme not in ("http", "https") or not parts.host:
        return None
    return Target(parts.scheme, parts.host, parts.port, parts.path)


_COOKIE_PATTERNS: dict[str, re.Pattern[str]] = {}


def raw_cookie(header: str, name: str) -> str:
    """The text of cookie ``name`` exactly as nginx's ``$cookie_<name>`` reads it ("" if absent).

    nginx (``ngx_http_parse_multi_header_lines``) takes the *first* pair whose name equals
    ``name`` **in any case**, at the start of the header or after a ``;`` or ``,``, skipping
    spaces around ``=``; the value runs to the next ``;``. Reading it any other way lets a
    client make the gateway judge one cookie while nginx caches the answer under another
    (``SSOMW_SESSION=x; ssomw_session=<victim's>``).
    """
    pattern = _COOKIE_PATTERNS.get(name)
    if pattern is None:
        pattern = _COOKIE_PATTERNS[name] = re.compile(
            r"(?:^|[;,]) *" + re.escape(name) + r" *= *([^;]*)", re.IGNORECASE)
    found = pattern.search(header)
    return found.group(1).strip() if found else ""


def read_cookie(header: str, name: str) -> str | None:
    """The session cookie's value as nginx sees it (quotes removed), or None."""
    return raw_cookie(header, name).strip('"') or None
