"""What every view shares: the runtime, page rendering, CSRF for the gateway's forms, and
the gateway's own base URL. Views are thin: parse the request, call one service, answer.

Pages go through :class:`ssomw.pages.templating.Pages` (sandboxed, translated, customisable),
built once per configuration with the runtime. The language comes from the request's
``Accept-Language``; the app, when known, selects its template overrides.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from flask import Response, current_app, g, request, session

from ssomw.core.redirects import host_matches
from ssomw.core.target import read_cookie, split_url
from ssomw.gateway.runtime import Runtime
from ssomw.middleware.security_headers import page_csp
from ssomw.oidc.logout import end_session_url, logout_csrf, logout_redirects
from ssomw.oidc.provider import ProviderUnavailable
from ssomw.store.base import SessionRecord, StoreUnavailable

_UNKNOWN: Any = object()

log = logging.getLogger("ssomw.logout")


def runtime() -> Runtime:
    return current_app.extensions["ssomw"]


def current_app_id() -> str | None:
    """The app this page is shown for: set by a view in ``g.ssomw_app_id``, else matched from
    the request's host and the path it is about (``X-Original-URL`` from nginx's 403 page, or
    the return address ``rd``). Only chooses templates, never grants anything."""
    if "ssomw_app_id" in g:
        return g.ssomw_app_id
    own = split_url(f"//{request.host}")
    host = own.host if own else ""
    path = "/"
    for candidate in (request.headers.get("X-Original-URL"), request.args.get("rd")):
        parts = split_url(candidate[:2048]) if candidate else None
        if parts is not None and parts.host in ("", host):
            path = parts.path or "/"
            break
    app = runtime().config.policy.match_app(host, path)
    return app.id if app else None


def render_page(page: str, *, app_id: str | None = _UNKNOWN, **context: Any) -> str:
    """HTML for ``page`` in the request's language, for ``app_id`` (default: the current app)."""
    p = runtime().pages
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
        rt = runtime()
        record = request_session(rt)
        switch_rd = f"{rt.prefix}/login" if record else ""  # sign out, then in afresh
        token, headers = signout_headers(rt, record, switch_rd)
        return render_page("forbidden", code=code, status=status, logout_csrf=token,
                           user=record.user if record else "", anonymous=record is None,
                           switch_rd=switch_rd,
                           **context), status, headers
    return render_page("error", code=code, status=status, **context), status, {}


def store_down_page(exc: StoreUnavailable) -> tuple[str, int, dict[str, str]]:
    """The "temporarily unavailable" page (503) for a store failure; logged once per
    interval by the runtime's outage log, not once per request."""
    runtime().outage.failed("page", exc)
    return error_page("SERVICE_UNAVAILABLE", 503)


def replace_with_store_down(response: Response, exc: StoreUnavailable) -> None:
    """The flow session could not be saved after the view ran: whatever the view answered (a
    redirect to the provider, a form) would not work without it, so the answer becomes the
    503 page, without the view's cookies or Location."""
    body, status, headers = store_down_page(exc)
    response.headers.clear()
    response.headers.update({"Content-Type": "text/html; charset=utf-8", **headers})
    response.status_code = status
    response.set_data(body)


def request_session(rt: Runtime) -> SessionRecord | None:
    """The live session the request's cookie names, read only (no touch, no write): for
    pages that only word their answer by who is asking."""
    cookie = read_cookie(request.headers.get("Cookie", ""), rt.sessions.settings.name)
    session_id = rt.sessions.codec.loads(cookie)
    return rt.store.get_session(session_id) if session_id else None


def signout_headers(rt: Runtime, record: SessionRecord | None, rd: str
                    ) -> tuple[str, dict[str, str]]:
    """A 403 page's "sign in as someone else" form: the sign-out token for ``record`` ("" for
    no session) and the CSP that lets its POST go on to the provider (and to ``rd``).

    Writes nothing: the token is stateless."""
    if record is None:
        return "", {}
    targets = logout_redirects(rt, record.provider, rd or None)
    return (logout_csrf(rt.sessions.settings.secret_keys, record.id),
            {"Content-Security-Policy": page_csp(targets), "X-Frame-Options": "DENY"})


def own_base_url() -> str | None:
    """The gateway's external base URL, or None when the request's host is not ours."""
    rt = runtime()
    public = rt.config["server"].get("public_url")
    if public:
        return public.rstrip("/")
    if not host_matches(request.host, rt.redirect_hosts):
        return None
    return f"{request.scheme}://{request.host}"


def upstream_logout(rt: Runtime, record: SessionRecord, back: str,
                    unreachable: str | None = None) -> str | None:
    """The provider's end-session URL, returning through ``/logged-out`` to ``back`` (kept in
    the flow session with the state, so only a logout we started bounces the browser on).

    ``unreachable`` when the provider cannot be reached (the session has ended here anyway);
    None when it has no end-session endpoint or the request's host is not ours."""
    base = own_base_url()
    if base is None:
        return None
    state = secrets.token_urlsafe(24)
    try:
        target = end_session_url(rt.providers.get(record.provider),
                                 f"{base}{rt.prefix}/logged-out",
                                 record.data.get("id_token"), state)
    except ProviderUnavailable as exc:
        log.warning("provider %s unreachable at logout (%s): signed out here only",
                    record.provider, exc)
        return unreachable
    if target is not None:
        session["logout"] = {"state": state, "rd": back}
    return target


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok() -> bool:
    sent, expected = request.form.get("csrf", ""), session.get("csrf", "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())
