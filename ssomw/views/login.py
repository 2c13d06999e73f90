"""Sign-in: ``/login`` routes to a provider (or asks), ``/callback`` finishes the code flow.

The per-browser login state (state, nonce, PKCE verifier, return address, what was asked of
the provider) lives in the Flask-Session flow session; the SSO session is created only after
the ID token and userinfo have been verified, under a brand-new id.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Blueprint, g, redirect, request, session
from werkzeug.exceptions import RequestEntityTooLarge

from ssomw.core.claims import ClaimRules, sign_in_level, signed_in
from ssomw.core.networks import address_bucket
from ssomw.core.policy import Assurance, Identity
from ssomw.core.redirects import host_matches, safe_redirect
from ssomw.core.target import read_cookie
from ssomw.gateway.runtime import Runtime
from ssomw.oidc.client import SignInError, finish_login, start_login
from ssomw.oidc.provider import Provider
from ssomw.session.manager import identity_of
from ssomw.store.base import StoreUnavailable
from ssomw.telemetry import audit, metrics
from ssomw.views.pages import error_page, render_page, runtime

log = logging.getLogger("ssomw.login")
bp = Blueprint("login", __name__)

FLOW_LIFETIME = 600.0
MAX_PENDING_FLOWS = 5
MAX_HINT = 256
FORM_POST_NAMESPACE = "form-post"
# response_mode=form_post (see callback_form_post): a POST is parked only for a state that
# begin() recorded, with every field capped, and at most FORM_POST_LIMIT times a minute per
# client address.
FORM_POST_PENDING = "form-post-pending"
FORM_POST_RATE = "form-post-rate"
FORM_POST_PARK_TTL = 120.0
FORM_POST_LIMIT = 30
FORM_POST_CAPS = {"code": 2048, "state": 2048, "iss": 2048, "error": 256,
                  "error_description": 512}
FORM_POST_MAX_BODY = 16 * 1024
FORM_POST_MAX_PARKED = 6 * 1024


def own_base_url() -> str | None:
    """The gateway's external base URL, or None when the request's host is not ours."""
    rt = runtime()
    public = rt.config["server"].get("public_url")
    if public:
        return public.rstrip("/")
    if not host_matches(request.host, rt.redirect_hosts):
        return None
    return f"{request.scheme}://{request.host}"


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok() -> bool:
    sent, expected = request.form.get("csrf", ""), session.get("csrf", "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def usable_hint(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if value and len(value) <= MAX_HINT and value.isprintable() else None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    rt = runtime()
    if request.method == "POST" and not csrf_ok():
        return error_page("SESSION_EXPIRED", 400)
    params = request.form if request.method == "POST" else request.args
    rd = safe_redirect(params.get("rd"), rt.redirect_hosts)
    base = own_base_url()
    if base is None:
        return error_page("BAD_REQUEST", 400)
    target = urlsplit(rd)
    host = target.hostname or request.host.split(":")[0]
    app = rt.config.policy.match_app(host, target.path or "/")
    g.ssomw_app_id = app.id if app else None
    allowed = list(app.providers) if app and app.providers else list(rt.config.providers)
    hint = usable_hint(params.get("login_hint") or params.get("email"))
    route = rt.config.routing.route(host=host, app_id=app.id if app else None,
                                    client_ip=request.remote_addr or "", email=hint,
                                    allowed=allowed, requested=params.get("idp"))
    if route.page == "email":
        return render_page("email", rd=rd, csrf=csrf_token(),
                               error=bool(hint) or request.method == "POST")
    if route.page == "choose":
        choices = [(p, rt.providers.get(p).display_name,
                    f"{rt.prefix}/login?" + urlencode({"rd": rd, "idp": p,
                                                       **({"login_hint": hint} if hint else {})}))
                   for p in route.choices]
        return render_page("choose_provider", choices=choices, rd=rd)
    provider = rt.providers.get(route.provider or "")
    if provider is None:
        return error_page("BAD_REQUEST", 400)
    app_params = dict(rt.config.app_settings(app.id)["auth_params"]) if app else {}
    if app is not None and app.assurance is not None and falls_short(rt, app.assurance):
        app_params["prompt"] = "login"  # a step-up: the provider must ask again, not reuse
    return begin(rt, provider, base, rd, app_params, hint, app.id if app else None)


def falls_short(rt: Runtime, assurance: Assurance) -> bool:
    """Whether this browser's session exists but its sign-in is too weak or too old."""
    try:
        record = rt.sessions.load(read_cookie(request.headers.get("Cookie", ""),
                                              rt.sessions.settings.name))
    except StoreUnavailable:
        return False
    return record is not None and assurance.shortfall(identity_of(record), time.time()) is not None


def begin(rt: Runtime, provider: Provider, base: str, rd: str, app_params: dict[str, str],
          hint: str | None, app_id: str | None = None) -> Any:
    params = {**provider.settings["auth_params"], **app_params}
    if hint:
        params["login_hint"] = hint
    if provider.settings["response_mode"] == "form_post":
        params["response_mode"] = "form_post"
    redirect_uri = f"{base}{rt.prefix}/callback"
    try:
        auth = start_login(provider, redirect_uri, params)
    except SignInError as exc:
        log.warning("sign-in could not start at %s: %s", provider.id, exc.detail)
        return sign_in_failed(provider.id, exc.code, 503)
    flows = dict(session.get("flows", {}))
    oldest_first = sorted(flows, key=lambda s: flows[s]["t"])
    for stale in oldest_first[: max(0, len(flows) - MAX_PENDING_FLOWS + 1)]:
        del flows[stale]
    flows[auth.state] = {"p": provider.id, "n": auth.nonce, "v": auth.code_verifier, "rd": rd,
                         "u": redirect_uri, "t": time.time(), "acr": params.get("acr_values"),
                         "max_age": params.get("max_age"), "app": app_id}
    session["flows"] = flows
    if provider.settings["response_mode"] == "form_post":
        rt.store.kv_set(FORM_POST_PENDING, pending_key(auth.state), provider.id.encode(),
                        FLOW_LIFETIME)
    return redirect(auth.url, 302)


def pending_key(state: str) -> str:
    """The store key of a pending form_post flow: a hash, so listing the namespace yields no
    state that could be posted."""
    return hashlib.sha256(state.encode()).hexdigest()


def form_post_fields() -> dict[str, str] | None:
    """The authorization response posted by the provider, or None when the body is too big,
    a field is repeated, over its cap or not printable ASCII (RFC 6749 §4.1.2, §5.2: every
    one of these is ASCII), or ``state`` is missing."""
    if (request.content_length or 0) > FORM_POST_MAX_BODY:
        return None
    request.max_content_length = FORM_POST_MAX_BODY
    try:
        form = request.form
    except RequestEntityTooLarge:
        return None
    fields = {}
    for name, cap in FORM_POST_CAPS.items():
        values = form.getlist(name)
        if len(values) > 1 or any(len(v) > cap or not (v.isascii() and v.isprintable())
                                  for v in values):
            return None
        if values:
            fields[name] = values[0]
    return fields if fields.get("state") else None


def form_post_refused(code: str, status: int, why: str) -> Any:
    """Refuse without touching the store (no audit event either: anyone can send these)."""
    log.info("form_post callback refused: %s", why)
    metrics.sign_in(metrics.UNKNOWN, code)
    return error_page(code, status)


@bp.post("/callback")
def callback_form_post() -> Any:
    """``response_mode=form_post``: the provider's page POSTs here cross-site, so the browser
    sends no SameSite=Lax cookie and the login state can't be checked yet. The parameters are
    parked in the store under a random key and the browser is sent back here with a GET (a
    top-level navigation, which does carry the cookie); the code never appears in a URL.

    Anyone can POST here, so parking is earned: the posted ``state`` must be one that
    :func:`begin` recorded for a form_post provider (consumed here: one parking per flow),
    every field is capped, and each client address parks at most :data:`FORM_POST_LIMIT`
    times a minute. Anything else is a 400 that writes nothing to the store."""
    rt = runtime()
    fields = form_post_fields()
    if fields is None:
        return form_post_refused("BAD_REQUEST", 400, "malformed or oversized fields")
    parked = urlencode(fields).encode()
    if len(parked) > FORM_POST_MAX_PARKED:
        return form_post_refused("BAD_REQUEST", 400, "fields too large together")
    if rt.store.kv_pop(FORM_POST_PENDING, pending_key(fields["state"])) is None:
        return form_post_refused("SESSION_EXPIRED", 400, "no form_post flow pending for "
                                 "this state")
    address = address_bucket(request.remote_addr or "")
    if rt.store.incr(FORM_POST_RATE, address, 60.0) > FORM_POST_LIMIT:
        response = form_post_refused("SERVICE_UNAVAILABLE", 429, f"over {FORM_POST_LIMIT} "
                                     f"a minute from {address}")
        return response[0], response[1], {"Retry-After": "60"}
    key = secrets.token_urlsafe(24)
    rt.store.kv_set(FORM_POST_NAMESPACE, key, parked, FORM_POST_PARK_TTL)
    return redirect(f"{rt.prefix}/callback?resume={key}", 303)


@bp.get("/callback")
def callback() -> Any:
    rt = runtime()
    params: Any = request.args
    if "resume" in request.args:
        parked = rt.store.kv_pop(FORM_POST_NAMESPACE, request.args["resume"][:64])
        if parked is None:
            return sign_in_failed(metrics.UNKNOWN, "SESSION_EXPIRED", 400)
        params = {k: v[0] for k, v in parse_qs(parked.decode()).items()}
    flows = dict(session.get("flows", {}))
    flow = flows.pop(params.get("state", ""), None)
    session["flows"] = flows
    if flow is None or time.time() - flow["t"] > FLOW_LIFETIME:
        return sign_in_failed(flow["p"] if flow else metrics.UNKNOWN, "SESSION_EXPIRED", 400)
    if "error" in params:
        log.info("provider %s returned error %.64r", flow["p"], params.get("error"))
        return sign_in_failed(flow["p"], "ACCESS_DENIED", 403)
    provider = rt.providers.get(flow["p"])
    code = params.get("code")
    if provider is None or not code:
        return sign_in_failed(flow["p"], "INVALID_RESPONSE", 400)
    acr = tuple(flow["acr"].split()) if flow.get("acr") and \
        provider.settings["acr_essential"] else None
    max_age = float(flow["max_age"]) if str(flow.get("max_age") or "").isdigit() else None
    try:
        result = finish_login(provider, code, flow["u"], flow["n"], flow["v"],
                              acr_values=acr, max_age=max_age)
    except SignInError as exc:
        log.warning("sign-in at %s failed: %s", provider.id, exc.detail)
        status = {"PROVIDER_UNAVAILABLE": 503, "AUTH_LEVEL_NOT_MET": 403}.get(exc.code, 502)
        return sign_in_failed(provider.id, exc.code, status)
    who = signed_in(ClaimRules.from_settings(provider.id, provider.settings), result.claims)
    if who is None:
        log.warning("sign-in at %s failed: no usable sub claim", provider.id)
        return sign_in_failed(provider.id, "INVALID_RESPONSE", 502)
    if not rt.config.routing.email_allowed(who.email):
        log.info("refused sign-in of %r via %s: e-mail domain not allowed (or the address is "
                 "not verified)", who.user, provider.id)
        return sign_in_failed(provider.id, "DOMAIN_NOT_ALLOWED", 403)
    level = sign_in_level(result.claims)
    shortfall = required_level_shortfall(rt, flow.get("app"), provider.id, level)
    if shortfall is not None:
        log.warning("sign-in of %r via %s refused for app %s: %s", who.user, provider.id,
                    flow.get("app"), shortfall)
        return sign_in_failed(provider.id, "AUTH_LEVEL_NOT_MET", 403)
    groups, profile = rt.identities.at_sign_in(who, provider.id, result.claims)
    data = {"email": who.email, "name": who.display_name,
            "preferred_username": who.preferred_username, "groups": groups, "profile": profile,
            "id_token": result.id_token, "auth_method": "oidc", "nonce": flow["n"],
            "tokens": token_data(rt, result), **level}
    sid = result.claims.get("sid")
    replaced = end_browser_session(rt)
    record, cookie = rt.sessions.create(
        user=who.user, provider=provider.id, sub=who.sub,
        sid=sid if isinstance(sid, str) else None, data=data)
    log.info("signed in %r via %s%s", who.user, provider.id,
             " (replacing this browser's previous session)" if replaced else "")
    metrics.sign_in(provider.id, "success")
    audit.record(rt.store, "sign_in", outcome="success", user=who.user, provider=provider.id,
                 address=request.remote_addr, session=record.id[:8])
    session.clear()  # the flow session is spent; Flask-Session deletes it
    response = redirect(flow["rd"], 302)
    rt.sessions.set_cookie(response, record, cookie)
    return response


def required_level_shortfall(rt: Runtime, app_id: str | None, provider_id: str,
                             level: dict[str, Any]) -> str | None:
    """Why a fresh sign-in still falls short of the app it was made for, or None. Refusing
    here (rather than at the app) keeps a provider that ignores the request from looping."""
    app = rt.config.policy.app_by_id(app_id) if app_id else None
    if app is None or app.assurance is None:
        return None
    identity = Identity(user="", provider=provider_id, groups=frozenset(),
                        acr=level["acr"], auth_time=level["auth_time"])
    return app.assurance.shortfall(identity, time.time())


def end_browser_session(rt: Runtime) -> bool:
    """End the session this browser holds, if any: a sign-in replaces it everywhere (a step-up
    or another user), so the old cookie value is worth nothing even to whoever copied it."""
    try:
        old = rt.sessions.load(read_cookie(request.headers.get("Cookie", ""),
                                           rt.sessions.settings.name))
        return old is not None and rt.sessions.end(old.id)
    except StoreUnavailable:
        return False


def sign_in_failed(provider_id: str, code: str, status: int) -> Any:
    metrics.sign_in(provider_id, code)
    audit.record(runtime().store, "sign_in", outcome="failure", provider=provider_id,
                 reason=code, address=request.remote_addr)
    return error_page(code, status)


def token_data(rt: Runtime, result: Any) -> dict[str, Any] | None:
    """Provider tokens kept for refreshing, only when ``session.refresh_tokens`` is on."""
    if not rt.config["session"]["refresh_tokens"] or not result.refresh_token:
        return None
    return {"access_token": result.access_token, "refresh_token": result.refresh_token,
            "expires_at": result.expires_at}
