"""Logout: end the SSO session here (every app at once), then at the provider when it can.

A sign-out must be asked for by the user, not by any page that can make the browser send a
request: ``GET /logout`` without proof only shows a confirmation page (a POST form), and the
session ends on a POST carrying the form's token (:func:`ssomw.oidc.logout.logout_csrf`) or on a
request carrying ``id_token_hint`` equal to the session's own ID token (a relying party's
logout link: only the provider and we ever saw that token). A POST without a valid token
shows the confirmation again with status 400. Without a session there is nothing to protect:
the signed-out result is shown as before (and the cookie is cleared only if one was sent, so a
cross-site request, which the browser sends without it, cannot delete it either).

RP-Initiated Logout 1.0: the browser goes to the provider's ``end_session_endpoint`` with
``id_token_hint``, ``post_logout_redirect_uri`` (our ``/logged-out``) and a ``state`` we check
on return, so only a logout we started can bounce the browser on to ``rd``.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, redirect, request, session

from ssomw.core.redirects import safe_redirect
from ssomw.core.target import read_cookie
from ssomw.gateway.runtime import Runtime
from ssomw.middleware.security_headers import page_csp
from ssomw.oidc.logout import (
    asked_for,
    end_local,
    logout_csrf,
    logout_redirects,
)
from ssomw.store.base import SessionRecord
from ssomw.views.common import render_page, runtime, upstream_logout

log = logging.getLogger("ssomw.logout")
bp = Blueprint("logout", __name__)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    rt = runtime()
    rd = safe_redirect(request.values.get("rd"), rt.redirect_hosts)
    cookie = read_cookie(request.headers.get("Cookie", ""), rt.sessions.settings.name)
    record = rt.sessions.load(cookie)
    if record is not None and not asked_for(
            rt.sessions.settings.secret_keys, record,
            posted_token=request.form.get("csrf", "") if request.method == "POST" else None,
            id_token_hint=request.values.get("id_token_hint", "")):
        return confirmation(rt, record, rd), 400 if request.method == "POST" else 200, \
            form_headers(logout_redirects(rt, record.provider, rd))
    target = None
    if record is not None:
        end_local(rt, record, request.remote_addr)
        # the signed-out page, not a dead provider
        target = upstream_logout(rt, record, rd, unreachable=f"{rt.prefix}/logged-out")
    if target is None:
        target = rd if "rd" in request.values else f"{rt.prefix}/logged-out"
    response = redirect(target, 302)
    if cookie is not None:  # never a deletion for a request that sent no cookie (cross-site)
        rt.sessions.clear_cookie(response)
    return response


def form_headers(targets: list[str]) -> dict[str, str]:
    """The pages' security headers, with the sign-out's redirect targets in ``form-action``."""
    return {"Content-Security-Policy": page_csp(targets), "X-Frame-Options": "DENY"}


def confirmation(rt: Runtime, record: SessionRecord, rd: str) -> str:
    """The page that asks before signing out; nothing is written to the store for it."""
    given = "rd" in request.values
    return render_page("logout_confirm", action=f"{rt.prefix}/logout", user=record.user,
                       csrf=logout_csrf(rt.sessions.settings.secret_keys, record.id),
                       rd=rd if given else "", cancel=rd if given else "/")


@bp.get("/logged-out")
def logged_out() -> Any:
    pending = session.pop("logout", None)
    state = request.args.get("state", "")
    if pending and state and hmac.compare_digest(pending["state"], state) and pending["rd"] != "/":
        return redirect(pending["rd"], 302)
    configured = runtime().config["templates"].get("logout_redirect")
    if configured:
        return redirect(safe_redirect(configured, runtime().redirect_hosts), 302)
    return render_page("logout")
