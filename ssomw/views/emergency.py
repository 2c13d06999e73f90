"""The emergency login: in when the provider is down or misconfigured — for a few groups only.

A form rendered by the gateway (CSRF-protected, never cached) checks local credentials
(`credentials: ldap` — a simple bind as the user — or `local` — argon2 hashes in the config),
then the user's groups after the group pipeline against `emergency.allowed_groups`. It depends
on no OpenID provider. Every failure — wrong password, unknown user, user outside the groups,
throttled or locked out, directory down — gets the same page and the same status, and every
answer costs the same work, so nothing can be learned about users or groups from its timing.
Every attempt is audited.

Equal timing comes from equal work, never from sleeping (a sleeping sync worker serves nobody
else): with ``local`` credentials every attempt does exactly one argon2 verification (an
unknown user, an empty password or a throttled attempt is verified against a dummy hash made
with the configured users' parameters); with ``ldap`` every judged attempt does one directory
search and one bind (see :meth:`Directory.check_password`), and a throttled one never reaches
the directory but does one cheap local argon2 verification in its place.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from typing import Any

from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import get_default_parameters
from flask import Flask, redirect, request

from ssomw.core.policy import EMERGENCY_PROVIDER
from ssomw.core.redirects import safe_redirect
from ssomw.core.throttle import Throttle, ThrottleSettings, throttle_keys
from ssomw.directory.ldap import DirectoryUnavailable
from ssomw.gateway.runtime import Runtime
from ssomw.telemetry import audit, metrics
from ssomw.views.login import csrf_ok, csrf_token
from ssomw.views.pages import error_page, render_page, runtime

log = logging.getLogger("ssomw.emergency")
HASHER = PasswordHasher()  # verify() reads the parameters from each hash
DEFAULT_PARAMETERS = get_default_parameters()  # what `ssomw hash-password` makes
# A throttled attempt with `credentials: ldap` verifies this instead of contacting the
# directory: about the cost of the search and bind it stands in for (a few ms), and cheap on
# purpose, since throttled attempts are the ones an attacker can send without limit.
DECOY_PARAMETERS = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32,
                              time_cost=1, memory_cost=8192, parallelism=1)
MAX_FIELD = 1024
_dummies: dict[tuple[Any, ...], str] = {}


def register(app: Flask, section: dict[str, Any]) -> None:
    """Mount the form at ``emergency.path`` when enabled; otherwise the path is a plain 404.

    The dummy hash is made here (once, in gunicorn's master), not at import and not during
    the first attempt, whose answer would otherwise take twice as long."""
    if section["enabled"]:
        dummy_hash(attempt_parameters(section))
        app.add_url_rule(section["path"], "emergency", emergency, methods=["GET", "POST"])


def emergency() -> Any:
    rt = runtime()
    settings = rt.config["emergency"]
    rd = safe_redirect(request.values.get("rd"), rt.redirect_hosts)
    if request.method == "GET":
        return form(rd, failed=False)
    if not csrf_ok():
        return error_page("SESSION_EXPIRED", 400)
    username = request.form.get("username", "").strip()[:256]
    password = request.form.get("password", "")[:MAX_FIELD]
    address = request.remote_addr or ""
    throttle = Throttle(rt.store, ThrottleSettings.from_config(settings["throttle"]), time.time)
    reservation = throttle.reserve(throttle_keys(username, address))
    if reservation.refused:
        decoy_verify(attempt_parameters(settings))  # the same work, the directory untouched
        groups, reason = None, "throttled"
    else:
        groups, reason = authenticate(rt, settings, username, password)
    allowed = groups is not None and bool(set(groups) & set(settings["allowed_groups"]))
    if groups is not None and not allowed:
        reason = "not in allowed_groups"
    throttle.settle(reservation, allowed)
    audit.record(rt.store, "emergency_login", user=username, address=address,
                 outcome="success" if allowed else "failure", reason=reason or None)
    metrics.emergency_login("success" if allowed else
                            "throttled" if reservation.refused else "failure")
    if not allowed:
        return form(rd, failed=True, username=username), 401
    return start_session(rt, settings, username, groups or [], rd)


def form(rd: str, *, failed: bool, username: str = "") -> Any:
    return render_page("emergency", csrf=csrf_token(), rd=rd, error=failed,
                       action=request.path, username=username)


def authenticate(rt: Runtime, settings: dict[str, Any], username: str, password: str
                 ) -> tuple[list[str] | None, str]:
    """(groups after the pipeline, "") for good credentials, else (None, internal reason).

    Empty credentials are refused like any others, after the same work."""
    empty = "empty credentials" if not username or not password else ""
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
            return None, empty or "bad credentials"
        username, ldap_groups = user.username, list(user.groups)
    else:
        if not verify_local(settings["local_users"], username, password):
            return None, empty or "bad credentials"
        ldap_groups = lookup_groups(rt, username)
    return identities.for_emergency(username, ldap_groups), ""


def verify_local(users: list[dict[str, str]], username: str, password: str) -> bool:
    """Exactly one argon2 verification, whoever asks: an unknown user or an empty password
    is verified against a dummy hash with the users' parameters, and refused."""
    entry = next((u for u in users if username and u["username"] == username), None)
    if entry is None or not password:
        decoy_verify(local_parameters(users), password)
        return False
    try:
        return HASHER.verify(entry["hash"], password)
    except (VerificationError, InvalidHashError):
        return False


def attempt_parameters(settings: dict[str, Any]) -> Parameters:
    """The argon2 parameters whose verification costs what a judged attempt costs."""
    if settings["credentials"] == "local":
        return local_parameters(settings["local_users"])
    return DECOY_PARAMETERS


def local_parameters(users: list[dict[str, str]]) -> Parameters:
    """The parameters of the first configured hash (all should share `ssomw hash-password`'s)."""
    for user in users:
        try:
            return extract_parameters(user["hash"])
        except InvalidHashError:
            continue
    return DEFAULT_PARAMETERS


def dummy_hash(parameters: Parameters) -> str:
    """A hash of a random password, made with ``parameters`` on first use and then kept."""
    key = dataclasses.astuple(parameters)
    if key not in _dummies:
        hasher = PasswordHasher.from_parameters(parameters)
        _dummies[key] = hasher.hash(secrets.token_urlsafe(16))
    return _dummies[key]


def decoy_verify(parameters: Parameters, password: str = "") -> None:
    """One argon2 verification that can never succeed: work that stands in for a real one."""
    try:
        HASHER.verify(dummy_hash(parameters), password or "-")
    except (VerificationError, InvalidHashError):
        pass


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
