"""Sign-in: ``/login`` starts the authorization request, ``/callback`` finishes it.

The per-browser login state (state, nonce, PKCE verifier, return address) lives in the
Flask-Session flow session; the SSO session is created only after the ID token and userinfo
have been verified, under a brand-new id.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, session

from ..core.redirects import host_matches, safe_redirect
from ..oidc.client import SignInError, finish_login, start_login
from ..oidc.provider import Provider
from .pages import error_page, runtime

log = logging.getLogger("ssomw.login")
bp = Blueprint("login", __name__)

FLOW_LIFETIME = 600.0
MAX_PENDING_FLOWS = 5
MAX_HINT = 256


def own_base_url() -> str | None:
    """The gateway's external base URL, or None when the request's host is not ours."""
    rt = runtime()
    public = rt.config["server"].get("public_url")
    if public:
        return public.rstrip("/")
    if not host_matches(request.host, rt.redirect_hosts):
        return None
    return f"{request.scheme}://{request.host}"


def choose_provider(rd: str, requested: str | None) -> Provider | None:
    """The provider for this sign-in: the requested one if the target app allows it,
    else the routing default if allowed, else the app's first allowed provider."""
    rt = runtime()
    target = urlsplit(rd)
    host = target.hostname or request.host.split(":")[0]
    app = rt.config.policy.match_app(host, target.path or "/")
    allowed = list(app.providers) if app and app.providers else list(rt.config.providers)
    for candidate in (requested, rt.config.default_provider, allowed[0]):
        if candidate and candidate in allowed:
            return rt.providers.get(candidate)
    return None


@bp.get("/login")
def login() -> Any:
    rt = runtime()
    rd = safe_redirect(request.args.get("rd"), rt.redirect_hosts)
    base = own_base_url()
    if base is None:
        return error_page("BAD_REQUEST", 400)
    provider = choose_provider(rd, request.args.get("idp"))
    if provider is None:
        return error_page("BAD_REQUEST", 400)
    extra = {}
    hint = request.args.get("login_hint", "")
    if hint and len(hint) <= MAX_HINT and hint.isprintable():
        extra["login_hint"] = hint
    redirect_uri = f"{base}{rt.prefix}/callback"
    try:
        auth = start_login(provider, redirect_uri, extra)
    except SignInError as exc:
        log.warning("sign-in could not start at %s: %s", provider.id, exc.detail)
        return error_page(exc.code, 503)
    flows = dict(session.get("flows", {}))
    oldest_first = sorted(flows, key=lambda s: flows[s]["t"])
    for stale in oldest_first[: max(0, len(flows) - MAX_PENDING_FLOWS + 1)]:
        del flows[stale]
    flows[auth.state] = {"p": provider.id, "n": auth.nonce, "v": auth.code_verifier, "rd": rd,
                         "u": redirect_uri, "t": time.time()}
    session["flows"] = flows
    return redirect(auth.url, 302)


@bp.route("/callback", methods=["GET", "POST"])
def callback() -> Any:
    rt = runtime()
    params = request.form if request.method == "POST" else request.args
    flows = dict(session.get("flows", {}))
    flow = flows.pop(params.get("state", ""), None)
    session["flows"] = flows
    if flow is None or time.time() - flow["t"] > FLOW_LIFETIME:
        return error_page("SESSION_EXPIRED", 400)
    if "error" in params:
        log.info("provider %s returned error %.64r", flow["p"], params.get("error"))
        return error_page("ACCESS_DENIED", 403)
    provider = rt.providers.get(flow["p"])
    code = params.get("code")
    if provider is None or not code:
        return error_page("INVALID_RESPONSE", 400)
    try:
        result = finish_login(provider, code, flow["u"], flow["n"], flow["v"])
    except SignInError as exc:
        log.warning("sign-in at %s failed: %s", provider.id, exc.detail)
        return error_page(exc.code, 503 if exc.code == "PROVIDER_UNAVAILABLE" else 502)
    identity = identity_from_claims(provider, result.claims)
    if identity is None:
        log.warning("sign-in at %s failed: no usable username claim", provider.id)
        return error_page("INVALID_RESPONSE", 502)
    user, data = identity
    data["id_token"] = result.id_token
    data["auth_method"] = "oidc"
    sid = result.claims.get("sid")
    record, cookie = rt.sessions.create(
        user=user, provider=provider.id, sub=result.claims["sub"],
        sid=sid if isinstance(sid, str) else None, data=data)
    log.info("signed in %r via %s", user, provider.id)
    session.clear()  # the flow session is spent; Flask-Session deletes it
    response = redirect(flow["rd"], 302)
    # The server enforces the exact lifetime; the cookie may outlive it by a little, since
    # clients round Max-Age to whole seconds from their own clock.
    response.set_cookie(value=cookie, max_age=math.ceil(record.expires - record.created) + 1,
                        **rt.sessions.cookie_options())
    return response


def identity_from_claims(provider: Provider, claims: dict[str, Any]
                         ) -> tuple[str, dict[str, Any]] | None:
    """Username and attributes per the provider's claim mapping (contract §4.3)."""
    names = provider.settings["claims"]

    def text(claim: str) -> str | None:
        value = claims.get(claim)
        return value if isinstance(value, str) and value else None

    user = text(names["username"]) or text(names["email"]) or text("sub")
    if user is None:
        return None
    raw_groups = claims.get(names["groups"], [])
    if isinstance(raw_groups, str):
        raw_groups = [raw_groups]
    groups = sorted({g for g in raw_groups if isinstance(g, str) and g}) \
        if isinstance(raw_groups, list) else []
    return user, {
        "email": text(names["email"]),
        "name": text(names["name"]),
        "preferred_username": text("preferred_username"),
        "groups": groups,
    }
