"""Logout requests the provider sends to us: back-channel (server to server) and front-channel
(an iframe in the provider's logout page)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, render_template, request

from ssomw.core.target import read_cookie
from ssomw.oidc.errors import TokenError
from ssomw.oidc.logout import backchannel_logout, frontchannel_logout, provider_for_issuer
from ssomw.views.common import runtime

bp = Blueprint("channels", __name__)
NO_CACHE = {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"}


@bp.post("/backchannel-logout")
def backchannel() -> Any:
    """Back-Channel Logout 1.0 §2.8: 200 on success (also when nothing matched), 400 with a
    JSON error for any invalid token, never cached."""
    token = request.form.get("logout_token")
    try:
        backchannel_logout(runtime(), token)
    except TokenError as exc:
        body = {"error": "invalid_request", "error_description": exc.message}
        return body, 400, NO_CACHE
    return "", 200, NO_CACHE


@bp.get("/frontchannel-logout")
def frontchannel() -> Any:
    """Front-Channel Logout 1.0: rendered in an iframe by the provider only. With a valid
    session cookie only that browser's session can end (see :func:`frontchannel_logout`)."""
    rt = runtime()
    issuer = request.args.get("iss")
    cookie = read_cookie(request.headers.get("Cookie", ""), rt.sessions.settings.name)
    frontchannel_logout(rt, issuer, request.args.get("sid"), rt.sessions.codec.loads(cookie))
    provider = provider_for_issuer(rt, issuer)
    parts = urlsplit(provider.settings["issuer"]) if provider else None
    ancestor = f"{parts.scheme}://{parts.netloc}" if parts else "'none'"
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": f"default-src 'none'; frame-ancestors {ancestor}",
    }
    return render_template("frontchannel.html"), 200, headers
