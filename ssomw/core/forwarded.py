"""The original request as forward-auth proxies describe it, read into one URL and method.

Traefik ``forwardAuth``, Caddy ``forward_auth`` and HAProxy send ``X-Forwarded-Method``,
``-Proto``, ``-Host`` and ``-Uri``; Envoy's HTTP ``ext_authz`` appends the original path to a
path prefix and keeps the original ``Host``. Both are turned into the ``X-Original-URL`` and
method that nginx's ``auth_request`` sends, so one decision judges every front door. What
cannot be read as one plain request is refused here with a reason (the caller answers 400):
a proxy that sends it is misconfigured, and guessing would judge another request than the
one the proxy lets through.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ssomw.core.target import MAX_URL

# RFC 9110 §9.1 method token; §7.2 Host, narrowed to DNS names (IDNs arrive as A-labels) and
# IP literals with an optional port: no userinfo, path, query, spaces or controls.
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
_HOST = re.compile(r"(?:[-a-zA-Z0-9._]+|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?")
# origin-form request target (RFC 9112 §3.2.1): starts with "/", visible ASCII only.
_URI = re.compile(r"/[\x21-\x7e]*")


class Unreadable(ValueError):
    """The forwarded request cannot be read as one plain request; the message says why."""


class Original(NamedTuple):
    """The original request: what ``X-Original-URL`` and ``X-Original-Method`` would say."""

    url: str
    method: str
    host: str  # as sent, with its port: where the gateway's 403 page is shown


def first(value: str | None) -> str:
    """The first of a comma-separated forwarded list (a proxy chain appends), stripped."""
    return (value or "").split(",")[0].strip()


def original(method: str | None, proto: str | None, host: str | None, uri: str | None
             ) -> Original:
    """The request described by forwarded method, scheme, host and request URI.

    Raises :class:`Unreadable` for a missing or malformed part (each says which header)."""
    method = (method or "").strip()
    scheme = first(proto).lower()
    host = first(host)
    uri = (uri or "").strip()
    if not _METHOD.fullmatch(method):
        raise Unreadable("X-Forwarded-Method is missing or not an HTTP method")
    if scheme not in ("http", "https"):
        raise Unreadable("X-Forwarded-Proto is missing or not http/https")
    if not _HOST.fullmatch(host):
        raise Unreadable("X-Forwarded-Host is missing or not a host name")
    if not _URI.fullmatch(uri):
        raise Unreadable("X-Forwarded-Uri is missing or not a request path starting with /")
    url = f"{scheme}://{host}{uri}"
    if len(url) > MAX_URL:
        raise Unreadable("the forwarded URL is too long")
    return Original(url, method.upper(), host)


def ext_authz_original(prefix: str, raw_uri: str, method: str, proto: str | None,
                       host: str | None) -> Original:
    """The request Envoy's ``ext_authz`` describes: the raw request URI minus ``prefix``
    (the filter's ``path_prefix``), the original ``Host`` and the forwarded scheme (``http``
    when the proxy sends none).

    Raises :class:`Unreadable` like :func:`original` (with Envoy's header names)."""
    if not raw_uri.startswith(prefix + "/"):
        raise Unreadable(f"the path must be {prefix}/<original path>")
    try:
        return original(method, proto or "http", host, raw_uri[len(prefix):])
    except Unreadable as exc:
        raise Unreadable(str(exc).replace("X-Forwarded-Host", "Host")
                         .replace("X-Forwarded-Uri", "the path after " + prefix)
                         .replace("X-Forwarded-Method", "the request method")) from None
