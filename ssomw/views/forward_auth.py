"""``GET /sso/forward-auth`` and ``/sso/ext-authz/<path>``: the front doors of proxies other
than nginx (contract §8).

Traefik ``forwardAuth``, Caddy ``forward_auth`` and HAProxy describe the original request in
``X-Forwarded-Method``/``-Proto``/``-Host``/``-Uri``; Envoy's HTTP ``ext_authz`` appends its
path to ``/sso/ext-authz`` and keeps ``Host``. Each is read into the ``X-Original-URL`` and
method nginx sends (:mod:`ssomw.core.forwarded`) and judged by the same
:class:`~ssomw.gateway.access.Access` as ``/sso/auth``; only the answer's form differs,
because these proxies hand every non-2xx answer to the browser as it is:

* allowed → 200 with the identity headers — every name the proxy configurations copy, empty
  when unset, so a copied header is always overwritten and never left to the client (or, in
  Caddy 2.6, to a literal placeholder);
* not signed in → 302 to the sign-in page for a navigation, 401 otherwise (with §7's
  ``WWW-Authenticate``);
* refused → 403 with the gateway's "not allowed" page; store down → 503.

Plain WSGI beside ``/sso/auth``, outside Flask (only the 403 page goes through it). The
forwarded headers are believed only from ``server.trusted_proxies``: any other peer gets 400
and the operator one log line per interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from ssomw.core.forwarded import Original, Unreadable, ext_authz_original, original
from ssomw.gateway.access import NO_STORE
from ssomw.integration.common import EXT_AUTHZ, FORWARD_AUTH, copied_headers
from ssomw.telemetry.logs import Sparse
from ssomw.views.auth import AuthEndpoint

StartResponse = Callable[..., Any]
log = logging.getLogger("ssomw.auth")

# What nginx's snippets tell the decision: here only our own reading of the request counts
# (Caddy and Traefik pass the client's headers on, these names included).
_NGINX_ONLY = ("HTTP_X_ORIGINAL_URL", "HTTP_X_ORIGINAL_METHOD", "HTTP_X_SSOMW_HOST",
               "HTTP_X_SSOMW_APP", "HTTP_X_SSOMW_CACHE_BUCKET", "HTTP_X_SSOMW_CACHE_COOKIE")
_TEXT = ("Content-Type", "text/plain; charset=utf-8")


class FrontDoors:
    """Both endpoints; ``pages`` is the gateway's page stack (it renders the 403 page)."""

    def __init__(self, auth: AuthEndpoint, pages: Callable[..., Iterable[bytes]], prefix: str):
        self.auth = auth
        self.access = auth.access
        self.pages = pages
        self.prefix = prefix
        self.forward_path = prefix + FORWARD_AUTH
        self.ext_authz_path = prefix + EXT_AUTHZ
        self.copied = [(name, name.lower()) for name in copied_headers(auth.access.runtime.config)]
        self.strangers = Sparse(log)

    def handles(self, path: str) -> bool:
        return path == self.forward_path or path.startswith(self.ext_authz_path + "/")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "")
        if not self.access.proxies.is_trusted(peer):
            self.strangers.warning(
                "refused %.100r from %s: forwarded headers are believed only from "
                "server.trusted_proxies", environ.get("PATH_INFO", ""), peer)
            return self.plain(start_response, "400 Bad Request",
                              "this endpoint is for a reverse proxy listed in "
                              "server.trusted_proxies; this peer is not one")
        try:
            request = self.read(environ)
        except Unreadable as exc:
            return self.plain(start_response, "400 Bad Request", str(exc))
        judged = dict(environ)
        for key in _NGINX_ONLY:
            judged.pop(key, None)
        judged["HTTP_X_ORIGINAL_URL"] = request.url
        judged["HTTP_X_ORIGINAL_METHOD"] = request.method
        status, headers = self.auth.judge(judged)
        return self.answer(environ, start_response, request, status, headers)

    def read(self, environ: dict[str, Any]) -> Original:
        """The original request, from the forwarded headers or Envoy's path and ``Host``."""
        if environ.get("PATH_INFO") == self.forward_path:
            return original(environ.get("HTTP_X_FORWARDED_METHOD"),
                            environ.get("HTTP_X_FORWARDED_PROTO"),
                            environ.get("HTTP_X_FORWARDED_HOST"),
                            environ.get("HTTP_X_FORWARDED_URI"))
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if not raw:  # a server that keeps no raw URI: the decoded path, quoted again
            query = environ.get("QUERY_STRING", "")
            raw = quote(environ.get("PATH_INFO", ""), safe="/;=,~!$&'()*+:@-._")
            raw += f"?{query}" if query else ""
        return ext_authz_original(self.ext_authz_path, raw, environ.get("REQUEST_METHOD", ""),
                                  environ.get("HTTP_X_FORWARDED_PROTO"),
                                  environ.get("HTTP_HOST"))

    def answer(self, environ: dict[str, Any], start_response: StartResponse,
               request: Original, status: str, headers: list[tuple[str, str]]
               ) -> Iterable[bytes]:
        """The decision in the form a proxy hands to the browser."""
        code = status[:3]
        headers = [h for h in headers if h[0] != "X-Accel-Expires"]
        if code == "200":
            present = {name.lower() for name, _ in headers}
            headers += [(name, "") for name, lower in self.copied if lower not in present]
            # An explicit empty body: without a length gunicorn would send it chunked, in a
            # second small write that Caddy (Go) may wait on.
            start_response(status, [*headers, ("Content-Length", "0")])
            return [b""]
        if code == "401":
            location = next((v for k, v in headers if k == "Location"), None)
            if location is not None:
                return self.plain(start_response, "302 Found", f"sign in at {location}",
                                  headers)
            return self.plain(start_response, status, "sign-in required", headers)
        if code == "403":
            return self.forbidden_page(environ, start_response, request, headers)
        return self.plain(start_response, status,
                          "sign-in is temporarily unavailable, please try again", headers)

    def forbidden_page(self, environ: dict[str, Any], start_response: StartResponse,
                       request: Original, headers: list[tuple[str, str]]) -> Iterable[bytes]:
        """The gateway's "not allowed" page for the original URL, as nginx shows it (the
        page reads the refused URL from ``X-Original-URL`` on the original host)."""
        page = dict(environ)
        page.update({"PATH_INFO": f"{self.prefix}/forbidden", "REQUEST_METHOD": "GET",
                     "QUERY_STRING": "", "CONTENT_LENGTH": "0", "HTTP_HOST": request.host,
                     "HTTP_X_FORWARDED_HOST": request.host,
                     "HTTP_X_ORIGINAL_URL": request.url})
        page.pop("CONTENT_TYPE", None)
        extra = [h for h in headers if h[0] == "WWW-Authenticate"]  # §7 insufficient_scope

        def start(status: str, page_headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, [*page_headers, *extra], *exc)

        return self.pages(page, start)

    @staticmethod
    def plain(start_response: StartResponse, status: str, text: str,
              headers: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        body = (text + "\n").encode()
        kept = [h for h in headers or [NO_STORE] if h[0] != "Content-Type"]
        if NO_STORE not in kept:
            kept.append(NO_STORE)
        start_response(status, [*kept, _TEXT, ("Content-Length", str(len(body)))])
        return [body]

