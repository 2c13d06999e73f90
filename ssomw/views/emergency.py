"""The emergency login form (``emergency.path``): parse, ask the service, answer.

The form is rendered by the gateway (CSRF-protected, never cached) and depends on no OpenID
provider; every failure gets the same page and status (``identity/emergency.py`` makes every
answer cost the same work).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, redirect, request

from ssomw.core.assurance import EMERGENCY_PROVIDER
from ssomw.core.redirects import safe_redirect
from ssomw.gateway.runtime import Runtime
from ssomw.identity.emergency import EmergencyLogin, prepare
from ssomw.identity.second_factor import SecondFactors, dummy_recovery_hash
from ssomw.views.common import csrf_ok, csrf_token, error_page, render_page, runtime

log = logging.getLogger("ssomw.emergency")


def register(app: Flask, section: dict[str, Any]) -> None:
    """Mount the form at ``emergency.path`` when enabled; otherwise the path is a plain 404."""
    if section["enabled"]:
        prepare(section)
        if section["second_factor"] == "totp":
            dummy_recovery_hash()  # made now, not during the first attempt
        app.add_url_rule(section["path"], "emergency", emergency, methods=["GET", "POST"])


def emergency() -> Any:
    rt = runtime()
    settings = rt.config["emergency"]
    rd = safe_redirect(request.values.get("rd"), rt.redirect_hosts)
    if request.method == "GET":
        return form(rd, failed=False)
    if not csrf_ok():
        return error_page("SESSION_EXPIRED", 400)
    service = EmergencyLogin(settings, rt.store, rt.identities, factors=second_factors(rt))
    username = request.form.get("username", "")
    attempt = service.attempt(username, request.form.get("password", ""),
                              request.remote_addr or "", request.form.get("code", ""))
    if not attempt.allowed:
        return form(rd, failed=True, username=username.strip()[:256]), 401
    record, cookie = rt.sessions.create(
        user=attempt.username, provider=EMERGENCY_PROVIDER, sub=attempt.username, sid=None,
        data={"groups": attempt.groups, "auth_method": "emergency", "profile": {},
              **({"amr": ["pwd", "otp"]} if attempt.factor else {})},
        max_lifetime=settings["max_lifetime"])
    log.warning("emergency login of %r from %s", attempt.username, request.remote_addr)
    response = redirect(rd, 302)
    rt.sessions.set_cookie(response, record, cookie)
    return response


def second_factors(rt: Runtime) -> SecondFactors | None:
    """The TOTP check when ``emergency.second_factor: totp``, else None."""
    if rt.config["emergency"]["second_factor"] != "totp":
        return None
    return SecondFactors(rt.store, rt.config["session"]["secret_keys"])


def form(rd: str, *, failed: bool, username: str = "") -> Any:
    return render_page("emergency", csrf=csrf_token(), rd=rd, error=failed,
                       action=request.path, username=username,
                       second_factor=runtime().config["emergency"]["second_factor"] == "totp")
