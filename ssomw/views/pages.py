"""Rendering the gateway's own pages (error, logout, choice…) and finding the runtime from a view.

Pages go through :class:`ssomw.pages.templating.Pages` (sandboxed, translated, customisable), built
once per configuration and kept in ``runtime.extra``. The language comes from the request's
``Accept-Language``; the app, when known, selects its template overrides.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, request

from ssomw.gateway.runtime import Runtime
from ssomw.middleware.security_headers import page_csp
from ssomw.oidc.logout import logout_csrf, logout_redirects
from ssomw.pages.templating import Pages
from ssomw.views.auth import read_cookie

_UNKNOWN: Any = object()


def runtime() -> Runtime:
    return current_app.extensions["ssomw"]


def pages() -> Pages:
    """The Pages for the runtime's current config (rebuilt when the config object changes)."""
    rt = runtime()
    cached = rt.extra.get("pages")
    if cached is None or cached[0] is not rt.config:
        cached = rt.extra["pages"] = (rt.config, Pages.from_config(rt.config))
    return cached[1]


def current_app_id() -> str | None:
    """The app this page is shown for: set by a view in ``g.ssomw_app_id``, else matched from
    the request's host and the path it is about (``X-Original-URL`` from nginx's 403 page, or
    the return address ``rd``). Only chooses templates, never grants anything."""
    if "ssomw_app_id" in g:
        return g.ssomw_app_id
    host = urlsplit(f"//{request.host}").hostname or ""
    path = "/"
    for candidate in (request.headers.get("X-Original-URL"), request.args.get("rd")):
        if candidate:
            parts = urlsplit(candidate[:2048])
            if parts.hostname in (None, host):
                path = parts.path or "/"
                break
    app = runtime().config.policy.match_app(host, path)
    return app.id if app else None


def render_page(page: str, *, app_id: str | None = _UNKNOWN, **context: Any) -> str:
    """HTML for ``page`` in the request's language, for ``app_id`` (default: the current app)."""
    p = pages()
    return p.render(
        page,
        app_id=current_app_id() if app_id is _UNKNOWN else app_id,
        lang=p.negotiate(request.headers.get("Accept-Language")),
        **{"request_id": g.get("request_id") or request.environ.get("ssomw.request_id", ""),
           **context},
    )


def error_page(code: str, status: int, **context: Any) -> tuple[str, int, dict[str, str]]:
    """The error page for ``code`` (a 403 uses the ``forbidden`` template); the message shown
    is the translated text for the code, details stay in the log under the request id."""
    if status == 403:
        token, headers = signout_form()
        return render_page("forbidden", code=code, status=status, logout_csrf=token,
                           **context), status, headers
    return render_page("error", code=code, status=status, **context), status, {}


def signout_form() -> tuple[str, dict[str, str]]:
    """The 403 page's "sign in as someone else" form: the sign-out token for the session the
    cookie names ("" without one), and the CSP that lets its POST go on to the provider.

    Reads the session (for its provider) but writes nothing: no token is stored."""
    rt = runtime()
    cookie = read_cookie(request.headers.get("Cookie", ""), rt.sessions.settings.name)
    session_id = rt.sessions.codec.loads(cookie)
    record = rt.store.get_session(session_id) if session_id else None
    if session_id is None or record is None:
        return "", {}
    targets = logout_redirects(rt, record.provider, None)
    return (logout_csrf(rt.sessions.settings.secret_keys, session_id),
            {"Content-Security-Policy": page_csp(targets), "X-Frame-Options": "DENY"})


bp = Blueprint("pages", __name__)


@bp.get("/forbidden")
def forbidden() -> tuple[str, int, dict[str, str]]:
    """The page nginx shows (keeping the 403) when the gateway refuses a signed-in user."""
    return error_page("USER_NOT_ALLOWED", 403)
