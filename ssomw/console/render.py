"""Rendering the console's pages: the same sandbox as the gateway's own pages, its own CSP.

Templates (``templates/``) run in Jinja's immutable sandbox with autoescaping and see only
plain data (:func:`ssomw.pages.templating.plain`): a view hands over exactly what the page
shows. The console's CSP is the pages' one plus ``script-src 'self'`` (``console.js``, no
inline script) and ``frame-src 'self'`` (the template editor's preview); pages are never
framed (``frame-ancestors 'none'``) nor cached (``no-store``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Response, g, request, session
from jinja2 import FileSystemLoader
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ssomw.pages.templating import SAFE_GLOBALS, plain
from ssomw.views.common import csrf_token, runtime

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
NAV = (("dashboard", "Overview", ""), ("apps", "Apps", "apps"),
       ("providers", "Providers", "providers"), ("groups", "Groups", "groups"),
       ("sessions", "Sessions", "sessions"), ("audit", "Audit log", "audit"),
       ("versions", "Versions", "versions"), ("explain", "Explain", "explain"),
       ("transfer", "Export / import", "transfer"), ("templates", "Templates", "templates"))
NOTICE = "console_notice"

_env: ImmutableSandboxedEnvironment | None = None


def environment() -> ImmutableSandboxedEnvironment:
    global _env
    if _env is None:
        env = ImmutableSandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATES)),
                                            autoescape=True, auto_reload=False)
        env.globals = {name: env.globals[name] for name in SAFE_GLOBALS}
        env.filters["when"] = when
        _env = env
    return _env


def when(moment: Any) -> str:
    """Epoch seconds as local time (``2026-12-06 14:03:09``); "-" for none."""
    if not isinstance(moment, (int, float)) or moment <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))


def base() -> str:
    return f"{runtime().prefix}/admin"


def notify(text: str) -> None:
    """A one-line notice for the next page shown (after a redirect)."""
    session[NOTICE] = text


def page(template: str, status: int = 200, *, section: str = "", **context: Any) -> Response:
    rt = runtime()
    admin = g.get("console_admin")
    values = {
        "prefix": rt.prefix, "base": base(), "static": f"{base()}/static",
        "pages_static": f"{rt.prefix}/static", "nav": [
            {"id": key, "label": label, "href": f"{base()}/{path}", "current": key == section}
            for key, label, path in NAV],
        "section": section, "csrf": csrf_token(), "notice": session.pop(NOTICE, ""),
        "admin_user": admin.user if admin else "", "request_id": request.environ.get(
            "ssomw.request_id", ""),
    }
    values.update(plain(context))
    html = environment().get_template(template).render(values)
    return secured(Response(html, status, mimetype="text/html"))


def secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def refused(message: str, status: int = 403) -> Response:
    """A refusal inside the console (CSRF, a change that could not be made)."""
    return page("message.html", status, title="Not done", message=message)
