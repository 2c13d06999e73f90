"""Sign-in: ``/login`` routes to a provider (or asks), ``/callback`` finishes the code flow.

Thin: the pending sign-in is ``oidc/flow.py``, the code exchange and token checks
``oidc/client.py``, and what the verified answer means (identity, groups, level, the new
session) ``identity/sign_in.py``. The SSO session is created only after all of it, under a
brand-new id.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

from flask import Blueprint, current_app, g, redirect, request, session
from werkzeug.exceptions import RequestEntityTooLarge

from ssomw.core.apps import App
from ssomw.core.assurance import Assurance
from ssomw.core.networks import address_bucket
from ssomw.core.redirects import safe_redirect
from ssomw.core.target import read_cookie, split_url
from ssomw.gateway.runtime import Runtime
from ssomw.identity.sign_in import SignIns
from ssomw.oidc.client import SignInError, finish_login, start_login
from ssomw.oidc.flow import (
    FLOW_LIFETIME,
    FORM_POST_MAX_BODY,
    FORM_POST_MAX_PARKED,
    FORM_POST_PARKED,
    FORM_POST_PENDING,
    PendingLogin,
    PendingLogins,
    authorization_params,
    form_post_fields,
    form_post_key,
)
from ssomw.oidc.provider import Provider
from ssomw.session.manager import identity_of
from ssomw.store.base import StoreUnavailable
from ssomw.telemetry import metrics
from ssomw.views.common import csrf_ok, csrf_token, error_page, own_base_url, render_page, runtime

log = logging.getLogger("ssomw.login")
bp = Blueprint("login", __name__)

MAX_HINT = 256
FORM_POST_RATE = "form-post-rate"
FORM_POST_PARK_TTL = 120.0
FORM_POST_LIMIT = 30   # parkings a minute per client address
STATUS = {"PROVIDER_UNAVAILABLE": 503, "AUTH_LEVEL_NOT_MET": 403, "DOMAIN_NOT_ALLOWED": 403,
          "ACCESS_DENIED": 403, "SESSION_EXPIRED": 400, "BAD_REQUEST": 400}


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
    target = split_url(rd)  # safe already; split_url only because nothing here may raise
    own = split_url(f"//{request.host}")
    host = (target.host if target else "") or (own.host if own else "")
    path = (target.path if target else "") or "/"
    app = rt.config.policy.match_app(host, path)
    broker_app, broker_needs, fresh = broker_return(rt, rd)
    if broker_app is not None:  # a broker client's sign-in: its app's routing and rules
        app = broker_app
        path = app.path_prefix or "/"
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
    # What the return address needs: the app's requirement and its matched rule's (step-up).
    needs = (rt.config.policy.match(app, "GET", path,
                                    request.remote_addr or "").assurance if app else None)
    if broker_needs is not None:
        needs = broker_needs.combine(needs)
    if needs is not None:
        if app is not None and needs != app.assurance:
            app_params.update(needs.auth_params())
        if asks_again(rt, needs) or fresh:
            app_params["prompt"] = "login"  # a step-up: the provider must ask again, not reuse
    return begin(rt, provider, base, rd, app_params, hint, app.id if app else None, needs)


def broker_return(rt: Runtime, rd: str) -> tuple[App | None, Assurance | None, bool]:
    """For a sign-in that resumes a parked broker authorization request (``rd`` is
    ``<prefix>/broker/authorize?resume=KEY``): the client's app, the ``max_age`` the client
    asked for, and whether it asked for a new sign-in (``prompt=login``); else nothing."""
    broker = current_app.extensions.get("ssomw_broker")
    start = f"{rt.prefix}/broker/authorize?resume="
    if broker is None or not rd.startswith(start):
        return None, None, False
    app_id, max_age, fresh = broker.app_of_parked(rd[len(start):])
    app = rt.config.policy.app_by_id(app_id) if app_id else None
    if app is None:
        return None, None, False
    return app, Assurance(max_age=max_age) if max_age is not None else None, fresh


def asks_again(rt: Runtime, needs: Assurance) -> bool:
    """Whether this browser's session exists but its sign-in is too weak or known to be too
    old for ``needs``: then the provider must ask for credentials again."""
    try:
        record = rt.sessions.load(browser_cookie(rt))
    except StoreUnavailable:
        return False
    return record is not None and needs.asks_again(identity_of(record), time.time())


def browser_cookie(rt: Runtime) -> str | None:
    return read_cookie(request.headers.get("Cookie", ""), rt.sessions.settings.name)


def begin(rt: Runtime, provider: Provider, base: str, rd: str, app_params: dict[str, str],
          hint: str | None, app_id: str | None = None, needs: Assurance | None = None) -> Any:
    params = authorization_params(provider.settings, app_params, hint)
    redirect_uri = f"{base}{rt.prefix}/callback"
    try:
        auth = start_login(provider, redirect_uri, params)
    except SignInError as exc:
        log.warning("sign-in could not start at %s: %s", provider.id, exc.detail)
        return sign_in_failed(provider.id, exc.code, 503)
    PendingLogins(session).add(auth.state, PendingLogin(
        provider=provider.id, nonce=auth.nonce, code_verifier=auth.code_verifier, rd=rd,
        redirect_uri=redirect_uri, started=time.time(), acr_values=params.get("acr_values"),
        max_age=params.get("max_age"), app=app_id,
        requires=needs.as_dict() if needs is not None else None))
    if provider.settings["response_mode"] == "form_post":
        rt.store.kv_set(FORM_POST_PENDING, form_post_key(auth.state), provider.id.encode(),
                        FLOW_LIFETIME)
    return redirect(auth.url, 302)


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
    if (request.content_length or 0) > FORM_POST_MAX_BODY:
        return form_post_refused("BAD_REQUEST", 400, "body too large")
    request.max_content_length = FORM_POST_MAX_BODY
    try:
        fields = form_post_fields(request.form)
    except RequestEntityTooLarge:
        fields = None
    if fields is None:
        return form_post_refused("BAD_REQUEST", 400, "malformed or oversized fields")
    parked = urlencode(fields).encode()
    if len(parked) > FORM_POST_MAX_PARKED:
        return form_post_refused("BAD_REQUEST", 400, "fields too large together")
    if rt.store.kv_pop(FORM_POST_PENDING, form_post_key(fields["state"])) is None:
        return form_post_refused("SESSION_EXPIRED", 400, "no form_post flow pending for "
                                 "this state")
    address = address_bucket(request.remote_addr or "")
    if rt.store.incr(FORM_POST_RATE, address, 60.0) > FORM_POST_LIMIT:
        response = form_post_refused("SERVICE_UNAVAILABLE", 429, f"over {FORM_POST_LIMIT} "
                                     f"a minute from {address}")
        return response[0], response[1], {"Retry-After": "60"}
    key = secrets.token_urlsafe(24)
    rt.store.kv_set(FORM_POST_PARKED, key, parked, FORM_POST_PARK_TTL)
    return redirect(f"{rt.prefix}/callback?resume={key}", 303)


@bp.get("/callback")
def callback() -> Any:
    rt = runtime()
    params: Any = request.args
    if "resume" in request.args:
        parked = rt.store.kv_pop(FORM_POST_PARKED, request.args["resume"][:64])
        if parked is None:
            return sign_in_failed(metrics.UNKNOWN, "SESSION_EXPIRED", 400)
        params = {k: v[0] for k, v in parse_qs(parked.decode()).items()}
    pending = PendingLogins(session).pop(params.get("state", ""))
    if pending is None or pending.expired(time.time()):
        return sign_in_failed(pending.provider if pending else metrics.UNKNOWN,
                              "SESSION_EXPIRED", 400)
    if "error" in params:
        log.info("provider %s returned error %.64r", pending.provider, params.get("error"))
        return sign_in_failed(pending.provider, "ACCESS_DENIED", 403)
    provider = rt.providers.get(pending.provider)
    code = params.get("code")
    if provider is None or not code:
        return sign_in_failed(pending.provider, "INVALID_RESPONSE", 400)
    try:
        result = finish_login(
            provider, code, pending.redirect_uri, pending.nonce, pending.code_verifier,
            acr_values=pending.essential_acr(provider.settings["acr_essential"]),
            max_age=pending.max_age_seconds())
        done = SignIns(rt.config, rt.identities, rt.sessions).complete(
            provider, result, pending, browser_cookie(rt), request.remote_addr)
    except SignInError as exc:
        log.warning("sign-in at %s failed: %s", provider.id, exc.detail)
        return sign_in_failed(provider.id, exc.code, STATUS.get(exc.code, 502))
    session.clear()  # the flow session is spent; Flask-Session deletes it
    response = redirect(pending.rd, 302)
    rt.sessions.set_cookie(response, done.record, done.cookie)
    return response


def sign_in_failed(provider_id: str, code: str, status: int) -> Any:
    rt = runtime()
    SignIns(rt.config, rt.identities, rt.sessions).failed(provider_id, code,
                                                           request.remote_addr)
    return error_page(code, status)
