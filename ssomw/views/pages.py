"""``/forbidden``: the page nginx shows, keeping the 403, when the gateway refuses a request.

nginx passes the refused URL (``X-Original-URL``) and the client's cookie. The page judges the
request once more, read-only, only to word the answer for who is asking — it never grants
anything, and a client that sends its own ``X-Original-URL`` here changes only the wording:

=========================  ======================  ===================  ======================
why                        code                    "back to the start"  "sign in as someone
                                                                        else"
=========================  ======================  ===================  ======================
host of no app             ``HOST_NOT_CONFIGURED``  hidden              hidden
a ``deny`` rule            ``PATH_DENIED``          the app's start     hidden
signed in, not in groups   ``USER_NOT_ALLOWED``     the app's start     sign out, then sign in
                                                                        to the app again
anything else              ``REQUEST_REFUSED``      hidden              hidden
=========================  ======================  ===================  ======================

"The app's start" is its ``path_prefix`` on the same host, shown only when it is not the
refused page itself and would not be refused too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from flask import Blueprint, request

from ssomw.core.apps import App
from ssomw.core.memo import Memo
from ssomw.core.target import Target, split_target
from ssomw.gateway.runtime import Runtime
from ssomw.session.manager import identity_of
from ssomw.store.base import SessionRecord
from ssomw.views.common import render_page, request_session, runtime, signout_headers

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class Refusal:
    """What the 403 page says: why, to whom, and where its two ways out lead."""

    code: str
    app_id: str | None = None
    start: str = ""      # href of "back to the start page" ("" hides it)
    switch_rd: str = ""  # where "sign in as someone else" ends ("" hides it)


@bp.get("/forbidden")
def forbidden() -> tuple[str, int, dict[str, str]]:
    rt = runtime()
    record = request_session(rt)
    refusal = why_refused(rt, request.headers.get("X-Original-URL", ""), request.host,
                          record, request.remote_addr or "")
    csrf, headers = signout_headers(rt, record, refusal.switch_rd)
    # The name only where an app is known: a host outside the config is told nothing more.
    html = render_page("forbidden", app_id=refusal.app_id, code=refusal.code, status=403,
                       user=record.user if record and refusal.app_id else "",
                       anonymous=record is None, start=refusal.start,
                       switch_rd=refusal.switch_rd, logout_csrf=csrf)
    return html, 403, headers


def why_refused(rt: Runtime, original: str, host: str, record: SessionRecord | None,
                client_ip: str) -> Refusal:
    """The refusal of ``original`` (a URL on ``host``, the page's own) for the session
    ``record`` (None: anonymous)."""
    memo: Memo[str, object] = Memo(4)
    target = split_target(original, memo) if original else None
    here = split_target(f"http://{host}/", memo)
    if target is None or here is None or target.host != here.host:
        return Refusal("REQUEST_REFUSED")  # no URL, a bad one, or one of another host
    policy = rt.config.policy
    path = target.path or "/"
    app = policy.match_app(target.host, path)
    if app is None:
        return Refusal("HOST_NOT_CONFIGURED")
    identity = identity_of(record) if record is not None else None
    now = rt.sessions.clock()
    decision = policy.decide(app, "GET", path, client_ip, identity, now)
    start = app.path_prefix
    shown = start if (start.rstrip("/") != path.rstrip("/") and policy.decide(
        app, "GET", start, client_ip, identity, now).outcome != "forbidden") else ""
    if decision.outcome != "forbidden":  # refused for what the page cannot see (the method)
        return Refusal("REQUEST_REFUSED", app.id, shown)
    if any(rule.index == decision.rule_index and rule.policy == "deny" for rule in app.rules):
        return Refusal("PATH_DENIED", app.id, shown)
    if identity is None:
        return Refusal("REQUEST_REFUSED", app.id, shown)
    return Refusal("USER_NOT_ALLOWED", app.id, shown, sign_in_again(rt, target, app))


def sign_in_again(rt: Runtime, target: Target, app: App) -> str:
    """A sign-in for the app's start page on the refused URL's host: where "sign in as
    someone else" goes once the session has ended."""
    host = f"[{target.host}]" if ":" in target.host else target.host
    port = f":{target.port}" if target.port else ""
    start = f"{target.scheme}://{host}{port}{app.path_prefix}"
    return f"{rt.prefix}/login?rd={quote(start, safe='')}"
