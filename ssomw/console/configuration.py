"""Console pages over the configuration: apps (the SSO toggle, rules, groups), providers
(with a live reachability check) and the group mapping (with one user's groups previewed).
Every change goes through :func:`ssomw.console.flow.propose`."""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from flask import Response, abort, redirect, request

from ssomw.admin import actions
from ssomw.admin.export import redact
from ssomw.admin.preview import regrouped
from ssomw.admin.service import AdminError
from ssomw.config import ConfigInvalid, section_defaults
from ssomw.config.schema import config_schema
from ssomw.config.validate import fill_defaults
from ssomw.console import bp
from ssomw.console.flow import propose, service
from ssomw.console.forms import FieldError, by_field, dump, names, yaml_field
from ssomw.console.gate import admin
from ssomw.console.render import base, notify, page
from ssomw.core.groups import Grant, GroupPipeline
from ssomw.core.url_secrets import redact_url
from ssomw.identity.users import load_user, local_groups
from ssomw.oidc.provider import Provider, ProviderUnavailable
from ssomw.views.common import runtime

APP_FIELDS = ("name", "hosts", "path_prefix", "sso", "providers", "allowed_groups",
              "denied_action", "rules")
CHECK_TIMEOUT = 3.0


def app_index(data: dict[str, Any], app_id: str) -> int:
    for i, app in enumerate(data.get("apps") or []):
        if isinstance(app, dict) and app.get("id") == app_id:
            return i
    abort(404)


# --- apps ------------------------------------------------------------------------------------

@bp.get("/admin/")
def dashboard() -> Response:
    rt = runtime()
    svc = service()
    history = svc.history()
    sessions = rt.store.all_sessions()
    return page("dashboard.html", section="dashboard", history=history["versions"][-5:][::-1],
                active=history["active"], config_source=history["config_source"],
                apps=len(rt.config["apps"]), providers=len(rt.config["providers"]),
                sessions=len(sessions), users=len({s.user for s in sessions}))


def active_apps() -> list[dict[str, Any]]:
    """The active version's apps with the schema's defaults: right after a change this
    worker may serve the previous configuration for up to a second, the page must not."""
    _, data = service().current()
    return fill_defaults(data, config_schema()).get("apps") or []


@bp.get("/admin/apps")
def apps() -> Response:
    rows = [{"id": app["id"], "name": app.get("name") or "", "hosts": app["hosts"],
             "path_prefix": app.get("path_prefix", "/"), "sso": app["sso"],
             "allowed_groups": app["allowed_groups"], "denied_action": app["denied_action"],
             "providers": app.get("providers") or [], "rules": [
                 {"policy": r["policy"], "paths": r.get("paths") or [],
                  "methods": r.get("methods") or [], "groups": r.get("groups") or [],
                  "networks": r.get("networks") or []} for r in app.get("rules") or []]}
            for app in active_apps()]
    return page("apps.html", section="apps", apps=rows)


@bp.post("/admin/apps/<app_id>/sso")
def toggle_sso(app_id: str) -> Response:
    number, data = service().current()
    i = app_index(data, app_id)
    on = request.form.get("sso") == "on"
    data["apps"][i]["sso"] = on
    return propose(f"Turn SSO {'on' if on else 'off'} for {app_id}", f"{base()}/apps",
                   data=data, base_version=number,
                   invalid=lambda exc: page("message.html", 422, section="apps",
                                            title="Not valid", message=exc.message,
                                            errors=[f"{e.path}: {e.message}"
                                                    for e in exc.errors]))


@bp.get("/admin/apps/<app_id>")
def edit_app(app_id: str) -> Response:
    _, data = service().current()
    raw = data["apps"][app_index(data, app_id)]
    return app_form(app_id, form_values(raw))


def form_values(raw: dict[str, Any]) -> dict[str, Any]:
    return {"name": raw.get("name", ""), "hosts": "\n".join(raw.get("hosts") or []),
            "path_prefix": raw.get("path_prefix", ""), "sso": raw.get("sso", True) is not False,
            "providers": list(raw.get("providers") or []),
            "allowed_groups": "\n".join(raw.get("allowed_groups") or []),
            "denied_action": raw.get("denied_action", "forbidden"),
            "rules": dump(raw.get("rules"))}


def app_form(app_id: str, values: dict[str, Any], errors: dict[str, list[str]] | None = None,
             summary: list[str] | None = None, status: int = 200) -> Response:
    return page("app_edit.html", status, section="apps", app_id=app_id, values=values,
                errors=errors or {}, summary=summary or [],
                all_providers=[p["id"] for p in runtime().config["providers"]],
                action=f"{base()}/apps/{app_id}")


@bp.post("/admin/apps/<app_id>")
def save_app(app_id: str) -> Response:
    number, data = service().current()
    i = app_index(data, app_id)
    form = request.form
    values = {"name": form.get("name", ""), "hosts": form.get("hosts", ""),
              "path_prefix": form.get("path_prefix", ""), "sso": form.get("sso") == "on",
              "providers": form.getlist("providers"),
              "allowed_groups": form.get("allowed_groups", ""),
              "denied_action": form.get("denied_action", ""), "rules": form.get("rules", "")}
    app = dict(data["apps"][i])
    try:
        rules = yaml_field("rules", values["rules"])
    except FieldError as exc:
        return app_form(app_id, values, {exc.field: [str(exc)]}, status=422)
    for key, value in (("name", values["name"].strip()), ("hosts", names(values["hosts"])),
                       ("path_prefix", values["path_prefix"].strip()),
                       ("providers", values["providers"]),
                       ("allowed_groups", names(values["allowed_groups"])),
                       ("rules", rules)):
        if value in ("", [], None):
            app.pop(key, None)
        else:
            app[key] = value
    app["sso"] = values["sso"]
    app["denied_action"] = values["denied_action"]
    data["apps"][i] = app

    def invalid(exc: AdminError) -> Response:
        placed, rest = by_field(exc.errors, f"apps[{i}]", APP_FIELDS)
        return app_form(app_id, values, placed, rest, status=422)

    return propose(f"Change app {app_id}", f"{base()}/apps", data=data, base_version=number,
                   invalid=invalid)


# --- providers -------------------------------------------------------------------------------

@bp.get("/admin/providers")
def providers() -> Response:
    rt = runtime()
    shown = redact(rt.config["providers"])
    with ThreadPoolExecutor(max_workers=min(8, len(shown) or 1)) as pool:
        checks = list(pool.map(reachable, rt.config["providers"]))
    rows = [{**{k: provider.get(k) for k in ("id", "name", "issuer", "client_id",
                                              "token_auth", "scopes")},
             "has_secret": bool(provider.get("client_secret")), "check": check}
            for provider, check in zip(shown, checks, strict=True)]
    return page("providers.html", section="providers", providers=rows, checked=time.time())


def reachable(settings: dict[str, Any]) -> dict[str, Any]:
    """Discovery (or the explicit endpoints) and the keys document, fetched now with a short
    timeout by a fresh client: nothing cached answers for the provider."""
    started = time.monotonic()
    with requests.Session() as http:
        probe = Provider({**settings, "timeout": min(float(settings["timeout"]),
                                                     CHECK_TIMEOUT)}, http)
        try:
            jwks = probe.endpoint("jwks_uri") or ""
            answer = http.get(jwks, timeout=min(float(settings["timeout"]), CHECK_TIMEOUT))
            if answer.status_code != 200:
                raise ProviderUnavailable(f"{jwks} answered {answer.status_code}")
        except (ProviderUnavailable, requests.RequestException) as exc:
            return {"ok": False, "ms": round((time.monotonic() - started) * 1000),
                    "problem": redact_url(str(exc))[:300] or type(exc).__name__}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000), "problem": ""}


# --- groups ------------------------------------------------------------------------------------

@bp.route("/admin/groups", methods=["GET", "POST"])
def groups() -> Response:
    number, data = service().current()
    user = (request.values.get("user") or "").strip()[:256]
    # Not set in the configuration: its defaults, as a starting point.
    text = request.form.get("mapping") if request.method == "POST" else dump(
        data.get("groups") or section_defaults("groups"))
    errors: list[str] = []
    try:
        section = yaml_field("mapping", text, empty={})
    except FieldError as exc:
        section, errors = None, [str(exc)]
    if request.method == "POST" and request.form.get("action") == "review" and not errors:
        changed = copy.deepcopy(data)
        changed["groups"] = section
        return propose("Change the group mapping", f"{base()}/groups", data=changed,
                       base_version=number, invalid=lambda exc: groups_page(
                           text, user, data, section, [f"{e.path}: {e.message}"
                                                       for e in exc.errors], 422))
    return groups_page(text or "", user, data, section, errors)


def groups_page(text: str, user: str, data: dict[str, Any], section: Any, errors: list[str],
                status: int = 200) -> Response:
    rt = runtime()
    result: dict[str, Any] = {}
    if user:
        record = load_user(rt.store, user)
        result = {"known": record is not None, "local": local_groups(rt.store, user),
                  "sessions": len(rt.store.sessions_by_user(user)),
                  "now": grant_rows(record.grants) if record else [], "then": None}
        if record is not None and section is not None and not errors:
            try:
                trial = service().versions.validate({**data, "groups": section})
                pipeline = GroupPipeline.build(trial["groups"])
                result["then"] = grant_rows(regrouped(pipeline, trial["groups"]["sources"],
                                                      rt.store, record))
            except ConfigInvalid as exc:
                errors = [f"{e.path}: {e.message}" for e in exc.errors
                          if e.path.startswith("groups")] or [str(exc)]
    return page("groups.html", status, section="groups", mapping=text, user=user,
                result=result, errors=errors, action=f"{base()}/groups")


def grant_rows(grants: Any) -> list[dict[str, Any]]:
    return [{"name": g.name, "source": g.source, "origin": g.origin, "via": list(g.via)}
            for g in sorted(grants, key=lambda g: g.name) if isinstance(g, Grant)]


@bp.post("/admin/groups/local")
def set_local() -> Response:
    user = (request.form.get("user") or "").strip()[:256]
    if not user:
        abort(400)
    result = actions.set_local_groups(runtime(), user, names(request.form.get("local")),
                                      admin().author, "console")
    when = "in force now" if result.groups is not None or result.sessions else \
        "in force at the first sign-in"
    notify(f"Local groups of {user}: {', '.join(result.local) or 'none'} ({when}; "
           f"{result.sessions} live session(s) updated).")
    return redirect(f"{base()}/groups?user={requests.utils.quote(user, safe='')}", 303)
