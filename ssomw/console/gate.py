"""Who may use the console, checked before every console view (contract §11).

* ``admin.console.groups`` empty: the console is off, every path under it is a 404;
* no live session: a page view is sent to sign in (and comes back), anything else is a 401;
* a session (SSO, or the emergency login when the provider is down) outside those groups:
  the gateway's 403 page;
* every POST must carry the form's CSRF token (the flow session's, ``csrf``): else a 403
  page and nothing changes.

The static files (stylesheet, script) are public: they hold nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from flask import Response, abort, g, redirect, request, session

from ssomw.console import bp
from ssomw.console.render import refused
from ssomw.core.target import read_cookie
from ssomw.views.common import csrf_ok, error_page, runtime

MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Admin:
    """The person using the console, as audit events name them (``console:<user>``)."""

    user: str
    provider: str
    groups: tuple[str, ...]

    @property
    def author(self) -> str:
        return f"console:{self.user}"


def admin() -> Admin:
    return g.console_admin


@bp.before_request
def admit() -> Response | tuple[str, int, dict[str, str]] | None:
    if request.endpoint == "console.static":
        return None
    request.max_content_length = MAX_BODY  # imports and templates, not only small forms
    rt = runtime()
    wanted = set(rt.config["admin"]["console"]["groups"])
    if not wanted:
        abort(404)
    cookie = read_cookie(request.headers.get("Cookie", ""), rt.sessions.settings.name)
    record = rt.sessions.load(cookie)
    if record is None:
        if request.method in ("GET", "HEAD"):
            here = request.full_path if request.query_string else request.path
            return redirect(f"{rt.prefix}/login?rd={quote(here, safe='')}", 302)
        return error_page("SESSION_EXPIRED", 401)
    groups = set(record.data.get("groups", ()))
    if groups.isdisjoint(wanted):
        return error_page("USER_NOT_ALLOWED", 403)
    g.console_admin = Admin(record.user, record.provider, tuple(sorted(groups)))
    # Keep the flow session (and its CSRF token) alive while the console is in use.
    session.modified = True
    if request.method == "POST" and not csrf_ok():
        return refused("This form expired or did not come from the console. Nothing was "
                       "changed. Load the page again and repeat what you did.")
    return None
