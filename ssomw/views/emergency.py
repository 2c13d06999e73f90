"""The emergency login: in when the provider is down or misconfigured — for a few groups only.

A form rendered by the gateway (CSRF-protected, never cached) checks local credentials
(`credentials: ldap` — a simple bind as the user — or `local` — argon2 hashes in the config),
then the user's groups after the group pipeline against `emergency.allowed_groups`. It depends
on no OpenID provider. Every failure — wrong password, unknown user, user outside the groups,
throttled or locked out, directory down — gets the same page, the same status and about the
same response time, so nothing can be learned about users or groups. Every attempt is audited.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, redirect, request

from .. import audit, metrics
from ..core.policy import EMERGENCY_PROVIDER
from ..core.redirects import safe_redirect
from ..core.throttle import Throttle, ThrottleSettings, throttle_keys
from ..directory.ldap import DirectoryUnavailable
from ..runtime import Runtime
from .login import csrf_ok, csrf_token
from .pages import error_page, render_page, runtime

log = logging.getLogger("ssomw.emergency")
HASHER = PasswordHasher()
# Verified when the username is unknown, so unknown and known users cost the same time.
DUMMY_HASH = HASHER.hash("ssomw-emergency-dummy-password")
MAX_FIELD = 1024


def register(app: Flask, section: dict[str, Any]) -> None:
    """Mount the form at ``emergency.path`` when enabled; otherwise the path is a plain 404."""
    if section["enabled"]:
        app.add_url_rule(section["path"], "emergency", emergency, methods=["GET", "POST"])


def emergency() -> Any:
    rt = runtime()
    settings = rt.config["emergency"]
    rd = safe_redirect(request.values.get("rd"), rt.redirect_hosts)
    if request.method == "GET":
        return form(rd, failed=False)
    if not csrf_ok():
        return error_page("SESSION_EXPIRED", 400)
    started = time.monotonic()
    username = request.form.get("username", "").strip()[:256]
    password = request.form.get("password", "")[:MAX_FIELD]
    address = request.remote_addr or ""
    throttle = Throttle(rt.store, ThrottleSettings.from_config(settings["throttle"]), time.time)
    keys = throttle_keys(username, address)
    verdict = throttle.check(keys)
    groups, reason = None, "throttled" if verdict.refused else ""
    if not verdict.refused:
        groups, reason = authenticate(rt, settings, username, password)
    allowed = groups is not None and bool(set(groups) & set(settings["allowed_groups"]))
    if groups is not None and not allowed:
        reason = "not in allowed_groups"
    (throttle.succeeded if allowed else throttle.failed)(keys)
    audit.record(rt.store, "emergency_login", user=username, address=address,
                 outcome="success" if allowed else "failure", reason=reason or None)
    metrics.emergency_login("success" if allowed else
                            "throttled" if verdict.refused else "failure")
    pad(started, settings["min_response_time"])
    if not allowed:
        return form(rd, failed=True, username=username), 401
    return start_session(rt, settings, username, groups or [], rd)


def form(rd: str, *, failed: bool, username: str = "") -> Any:
    return render_page("emergency", csrf=csrf_token(), rd=rd, error=failed,
                       action=request.path, username=username)


def authenticate(rt: Runtime, settings: dict[str, Any], username: str, password: str
                 ) -> tuple[list[str] | None, str]:
    """(groups after the pipeline, "") for good credentials, else (None, internal reason)."""
    if not username or not password:
        return None, "empty credentials"
    identities = rt.identities
    ldap_groups: list[str] | None = None
    if settings["credentials"] == "ldap":
        if identities.directory is None:
            return None, "no directory"
        try:
            user = identities.directory.check_password(username, password)
        except DirectoryUnavailable as exc:
            log.warning("emergency login: directory unavailable (%s)", exc)
            return None, "directory unavailable"
        if user is None:
            return None, "bad credentials"
        username, ldap_groups = user.username, list(user.groups)
    else:
        if not verify_local(settings["local_users"], username, password):
            return None, "bad credentials"
        ldap_groups = lookup_groups(rt, username)
    return identities.for_emergency(username, ldap_groups), ""


def verify_local(users: list[dict[str, str]], username: str, password: str) -> bool:
    entry = next((u for u in users if u["username"] == username), None)
    try:
        return HASHER.verify(entry["hash"] if entry else DUMMY_HASH, password) and bool(entry)
    except (VerificationError, InvalidHashError):
        return False


def lookup_groups(rt: Runtime, username: str) -> list[str] | None:
    """Directory groups for a locally authenticated user, when a directory is there."""
    directory = rt.identities.directory
    if directory is None:
        return None
    try:
        user = directory.find_user(username=username)
    except DirectoryUnavailable:
        return None
    return list(user.groups) if user else []


def pad(started: float, minimum: float) -> None:
    """Answer no sooner than ``minimum`` seconds after the attempt began (uniform timing)."""
    remaining = minimum - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


def start_session(rt: Runtime, settings: dict[str, Any], username: str, groups: list[str],
                  rd: str) -> Any:
    record, cookie = rt.sessions.create(
        user=username, provider=EMERGENCY_PROVIDER, sub=username, sid=None,
        data={"groups": groups, "auth_method": "emergency", "profile": {}},
        max_lifetime=settings["max_lifetime"])
    log.warning("emergency login of %r from %s", username, request.remote_addr)
    response = redirect(rd, 302)
    rt.sessions.set_cookie(response, record, cookie)
    return response
