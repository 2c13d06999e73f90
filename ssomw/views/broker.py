"""The broker's endpoints (contract §12): thin, over ``ssomw/broker/``.

``/broker/authorize`` reuses the browser's ssomw session; without one (or when the client asks
for a fresh sign-in with ``prompt=login``/``max_age``) the request is parked in the store and
the browser goes through ``/login`` (routing rules, choice and e-mail pages, the client's app's
providers), coming back to ``/broker/authorize?resume=<key>``. The client's ``app`` policy
decides: a user it refuses gets the 403 page and no code. A request whose client or redirect
URI cannot be trusted gets the error page, never a redirect to that URI.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oidc.core.errors import LoginRequiredError
from flask import Blueprint, abort, current_app, jsonify, redirect, request
from joserfc.errors import JoseError
from werkzeug.exceptions import RequestEntityTooLarge

from ssomw.broker.clients import Client
from ssomw.broker.server import Broker
from ssomw.broker.tokens import BrokerUser, broker_sid
from ssomw.core.policy import Decision
from ssomw.core.target import read_cookie
from ssomw.gateway.runtime import Runtime
from ssomw.oidc.logout import end_local
from ssomw.session.manager import identity_of
from ssomw.store.base import SessionRecord
from ssomw.views.common import error_page, runtime, upstream_logout

log = logging.getLogger("ssomw.broker")
bp = Blueprint("broker", __name__)
FRESH_SIGN_IN = 60  # prompt=login: a sign-in this recent (seconds) counts as fresh
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def broker() -> Broker:
    """This configuration's broker; 404 when no client is configured (nothing to serve)."""
    found = current_app.extensions.get("ssomw_broker")
    if found is None:
        abort(404)
    return found


@bp.errorhandler(RequestEntityTooLarge)
def too_large(exc: RequestEntityTooLarge) -> Any:
    """A body over the gateway's limit: an OAuth error for clients, the page for browsers."""
    if request.endpoint in ("broker.token", "broker.userinfo"):
        return jsonify(error="invalid_request", error_description="request too large"), 413
    return error_page("BAD_REQUEST", 413)


@bp.get("/.well-known/openid-configuration")
def discovery() -> Any:
    response = jsonify(broker().discovery())
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/broker/jwks.json")
def jwks() -> Any:
    rt = runtime()
    broker()
    rt.keys.active()  # the first key is made here, so a client can fetch the set first
    response = jsonify(rt.keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/broker/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    b, rt = broker(), runtime()
    parked_key = request.args.get("resume", "")
    params = b.resume(parked_key) if parked_key else None
    if parked_key and params is None:
        return error_page("SESSION_EXPIRED", 400)
    record = rt.sessions.load(read_cookie(request.headers.get("Cookie", ""),
                                          rt.sessions.settings.name))
    user = BrokerUser.of(record) if record is not None else None
    try:
        grant = b.server.get_consent_grant(params, end_user=user)
    except OAuth2Error as error:
        return refused(b, error)
    payload = grant.request.payload.data
    client: Client = grant.request.client
    decision = app_decision(rt, client, record) if record is not None else None
    if (record is None or user is None or decision is None or decision.outcome == "login"
            or needs_fresh_sign_in(payload, user, parked_key)):
        # No session, a fresh sign-in asked for, or the app needs another provider or a
        # stronger sign-in: sign in (unless the client said prompt=none).
        if "none" in str(payload.get("prompt") or "").split():
            return b.server.handle_error_response(None, LoginRequiredError(
                redirect_uri=grant.redirect_uri, state=payload.get("state")))
        return sign_in(rt, b, payload)
    if decision.outcome not in ("allow", "bypass"):
        log.info("broker: %r refused for client %s: %s", record.user, client.client_id,
                 decision.reason)
        return error_page("USER_NOT_ALLOWED", 403)
    if parked_key:
        rt.store.kv_delete("broker-parked", parked_key)
    return b.server.create_authorization_response(params, grant_user=user, grant=grant)


def refused(b: Broker, error: OAuth2Error) -> Any:
    """RFC 6749 §4.1.2.1: with a trusted redirect URI the error goes back to the client;
    an unknown client or a redirect URI that does not match gets the error page."""
    if error.redirect_uri:
        return b.server.handle_error_response(None, error)
    log.info("broker: authorization request refused: %s (%s)", error.error,
             error.description)
    return error_page("BAD_REQUEST", 400, detail=error.description)


def needs_fresh_sign_in(params: Any, user: BrokerUser, resumed: str) -> bool:
    """OIDC Core §3.1.2.1: ``prompt=login`` asks for a new sign-in (unless this request
    comes back from one: resumed with a recent ``auth_time``); ``max_age`` for one no older
    than that."""
    now = time.time()
    age = now - (user.auth_time or 0)
    prompts = str(params.get("prompt") or "").split()
    if "login" in prompts and not (resumed and age <= FRESH_SIGN_IN):
        return True
    max_age = str(params.get("max_age") or "")
    return max_age.isdigit() and age > int(max_age)


def sign_in(rt: Runtime, b: Broker, params: Any) -> Any:
    """Park the request and send the browser through the gateway's sign-in; it comes back
    to ``/broker/authorize?resume=<key>``."""
    kept = {k: str(v) for k, v in dict(params).items()}
    if "login" in kept.get("prompt", "").split():
        kept["max_age"] = str(min(int(kept["max_age"]) if kept.get("max_age", "").isdigit()
                                  else FRESH_SIGN_IN, FRESH_SIGN_IN))
    key = b.park(kept)
    back = f"{rt.prefix}/broker/authorize?resume={key}"
    return redirect(f"{rt.prefix}/login?" + urlencode({"rd": back}), 302)


def app_decision(rt: Runtime, client: Client, record: SessionRecord) -> Decision | None:
    """The client's app policy for this session, as the auth endpoint would decide a
    request to the app's root (the same compiled rules); None for an unknown app (``ssomw
    check`` forbids it), which then gets no code."""
    policy = rt.config.policy
    app = policy.app_by_id(client.app)
    if app is None:
        log.error("broker client %s names unknown app %r: no codes", client.client_id,
                  client.app)
        return None
    return policy.decide(app, "GET", app.path_prefix or "/", request.remote_addr or "",
                         identity_of(record), time.time())


@bp.post("/broker/token")
def token() -> Any:
    response = broker().token_response(request.remote_addr or "")
    response.headers["Access-Control-Allow-Origin"] = "*"  # public clients (SPAs); no cookies
    return response


@bp.route("/broker/userinfo", methods=["GET", "POST"])
def userinfo() -> Any:
    response = broker().server.create_endpoint_response("userinfo")
    response.headers.update(NO_STORE)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/broker/end-session", methods=["GET", "POST"])
def end_session() -> Any:
    """RP-Initiated Logout 1.0. With a valid ``id_token_hint`` for this browser's session
    the session ends here and upstream (as ``/logout`` does), and the browser returns to the
    client's registered ``post_logout_redirect_uri``; without one the user is asked first
    (``/logout``'s confirmation)."""
    b, rt = broker(), runtime()
    try:
        ended = b.server.validate_endpoint_request("end_session")
    except (OAuth2Error, JoseError, ValueError) as error:
        log.info("broker: end-session refused: %s", getattr(error, "description", error))
        return error_page("BAD_REQUEST", 400)
    back = ended.redirect_uri  # registered and exact, with the client's state
    cookie = read_cookie(request.headers.get("Cookie", ""), rt.sessions.settings.name)
    record = rt.sessions.load(cookie)
    claims = ended.id_token_claims or {}
    if record is None:
        return redirect(back or f"{rt.prefix}/logged-out", 302)
    if claims.get("sid") != broker_sid(record.id):
        return redirect(f"{rt.prefix}/logout", 302)  # not proven: the confirmation page
    end_local(rt, record, request.remote_addr)
    target = upstream_logout(rt, record, back or "/")
    response = redirect(target or back or f"{rt.prefix}/logged-out", 302)
    rt.sessions.clear_cookie(response)
    return response
