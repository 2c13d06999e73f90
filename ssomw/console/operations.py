"""Console pages that read and administer: sessions (search, force logout), the audit log
(filter by type, user, time), versions (diff between any two, rollback), explain (user ×
URL) and export/import. Ending sessions asks for confirmation first; rollbacks and imports
go through the review page like every configuration change."""

from __future__ import annotations

import json
import time
from datetime import datetime
from urllib.parse import quote

import yaml
from flask import Response, abort, redirect, request

from ssomw.admin import actions
from ssomw.admin.explain import ExplainError, explain
from ssomw.admin.readable import diff_lines
from ssomw.admin.service import AdminError
from ssomw.config.versions import diff
from ssomw.console import bp
from ssomw.console.flow import propose, service
from ssomw.console.gate import admin
from ssomw.console.render import base, notify, page, secured
from ssomw.telemetry import audit
from ssomw.views.common import runtime

AUDIT_ROWS = 200
WHO = ("user", "author", "name", "username")


# --- sessions --------------------------------------------------------------------------------

@bp.get("/admin/sessions")
def sessions() -> Response:
    rt = runtime()
    user = (request.args.get("user") or "").strip()[:256]
    records = rt.store.sessions_by_user(user) if user else rt.store.all_sessions()
    idle = rt.config["session"]["idle_timeout"]
    rows = [{"id": r.id, "short": r.id[:8], "user": r.user, "provider": r.provider,
             "created": r.created, "last_seen": r.last_seen, "expires": r.deadline(idle),
             "method": r.data.get("auth_method") or "sso",
             "groups": list(r.data.get("groups", ()))}
            for r in sorted(records, key=lambda r: (r.user, r.created))]
    return page("sessions.html", section="sessions", user=user, rows=rows)


@bp.post("/admin/sessions/end")
def end_sessions() -> Response:
    """Ask first (the confirmation page), then end one session or every session of a user."""
    rt = runtime()
    user = (request.form.get("user") or "").strip()[:256]
    session_id = (request.form.get("session") or "").strip()[:128]
    back = f"{base()}/sessions" + (f"?user={quote(user, safe='')}" if user else "")
    if request.form.get("confirm") != "yes":
        if session_id:
            record = rt.store.get_session(session_id)
            if record is None:
                notify("That session has ended already.")
                return redirect(back, 303)
            what = f"End session {session_id[:8]}… of {record.user}?"
        elif user:
            count = len(rt.store.sessions_by_user(user))
            what = f"End all {count} live session(s) of {user}?"
        else:
            abort(400)
        return page("confirm.html", section="sessions", question=what,
                    detail="They are signed out at once, on every gateway instance: nginx "
                    "refuses their cookie within a second.",
                    action=f"{base()}/sessions/end", fields={"user": user,
                                                             "session": session_id},
                    button="End", back=back)
    try:
        if session_id:
            owner = actions.end_session(rt, session_id, admin().author, "console")
            notify(f"Ended session {session_id[:8]}… of {owner}.")
        else:
            ended = actions.end_user_sessions(rt, user, admin().author, "console")
            notify(f"Ended {ended} session(s) of {user}.")
    except AdminError as exc:
        notify(f"Nothing ended: {exc.message}.")
    return redirect(back, 303)


# --- audit -------------------------------------------------------------------------------------

def moment(text: str | None) -> float | None:
    """A ``datetime-local`` value (``2026-12-06T14:05``, local time), or None."""
    if not text:
        return None
    try:
        return time.mktime(datetime.fromisoformat(text).timetuple())
    except ValueError:
        return None


@bp.get("/admin/audit")
def audit_log() -> Response:
    rt = runtime()
    args = request.args
    kind, who = (args.get("type") or "").strip(), (args.get("user") or "").strip()
    since, until = moment(args.get("since")), moment(args.get("until"))
    events = audit.query(rt.store, since=since or 0.0, limit=100_000)
    kinds = sorted({e.get("type", "") for e in events})
    chosen = [e for e in events
              if (not kind or e.get("type") == kind)
              and (not who or any(str(e.get(k, "")) == who
                                  or str(e.get(k, "")) == f"console:{who}" for k in WHO))
              and (until is None or e.get("time", 0) <= until)]
    rows = [{"time": e.get("time"), "type": e.get("type"),
             "who": next((str(e[k]) for k in WHO if e.get(k)), ""),
             "details": json.dumps({k: v for k, v in e.items() if k not in ("time", "type")},
                                   default=str, ensure_ascii=False)[:600]}
            for e in reversed(chosen[-AUDIT_ROWS:])]
    return page("audit.html", section="audit", rows=rows, kinds=kinds, total=len(chosen),
                filters={"type": kind, "user": who, "since": args.get("since", ""),
                         "until": args.get("until", "")}, shown=AUDIT_ROWS)


# --- versions ----------------------------------------------------------------------------------

@bp.get("/admin/versions")
def versions() -> Response:
    history = service().history()
    return page("versions.html", section="versions", versions=history["versions"][::-1],
                active=history["active"], config_source=history["config_source"])


@bp.get("/admin/versions/diff")
def version_diff() -> Response:
    svc = service()
    try:
        a, b = int(request.args.get("a", "")), int(request.args.get("b", ""))
    except ValueError:
        abort(400)
    old, new = svc.versions.get(a), svc.versions.get(b)
    if old is None or new is None:
        abort(404)
    return page("version_diff.html", section="versions", a=old.meta(), b=new.meta(),
                lines=diff_lines(diff(old.data, new.data)))


@bp.post("/admin/versions/<int:number>/rollback")
def rollback(number: int) -> Response:
    svc = service()
    if svc.versions.get(number) is None:
        abort(404)
    active, _ = svc.current()
    return propose(f"Roll back to version {number}", f"{base()}/versions", rollback=number,
                   base_version=active,
                   invalid=lambda exc: page("message.html", 422, section="versions",
                                            title="Not valid", message=exc.message,
                                            errors=[f"{e.path}: {e.message}"
                                                    for e in exc.errors]))


# --- explain -----------------------------------------------------------------------------------

@bp.get("/admin/explain")
def explain_page() -> Response:
    args = request.args
    url, user = (args.get("url") or "").strip(), (args.get("user") or "").strip()
    method = (args.get("method") or "GET").strip().upper()[:16] or "GET"
    result, problem = None, ""
    if url:
        try:
            result = explain(runtime(), url[:2048], user or None, method=method)
        except ExplainError as exc:
            problem = str(exc)
    return page("explain.html", section="explain", url=url, user=user, method=method,
                result=result, problem=problem)


# --- export / import ---------------------------------------------------------------------------

@bp.get("/admin/transfer")
def transfer(errors: dict[str, str] | None = None, status: int = 200) -> Response:
    return page("transfer.html", status, section="transfer", errors=errors or {},
                action_export=f"{base()}/transfer/export",
                action_import=f"{base()}/transfer/import")


@bp.post("/admin/transfer/export")
def export() -> Response:
    mode = request.form.get("secrets", "redact")
    secret = request.form.get("passphrase") or None
    if mode == "encrypt" and secret != request.form.get("passphrase2"):
        return transfer({"passphrase": "the two passphrases differ"}, 422)
    try:
        doc = service().export(mode if mode in ("redact", "encrypt") else "redact", secret)
    except AdminError as exc:
        return transfer({"passphrase": exc.message}, 422)
    audit.record(runtime().store, "config_exported", author=admin().author, via="console",
                 secrets=mode, version=doc["version"])
    name = f"ssomw-config-v{doc['version'] or 'file'}.json"
    response = Response(json.dumps(doc, indent=2) + "\n", mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return secured(response)


@bp.post("/admin/transfer/import")
def import_backup() -> Response:
    upload = request.files.get("backup")
    if upload is None or not upload.filename:
        return transfer({"backup": "choose a backup file"}, 422)
    try:
        doc = yaml.safe_load(upload.read().decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return transfer({"backup": "the file is not JSON or YAML text"}, 422)
    svc = service()
    try:
        data, may_restore = svc.read_backup(doc, request.form.get("passphrase") or None)
    except AdminError as exc:
        field = "passphrase" if "passphrase" in exc.code else "backup"
        return transfer({field: exc.message}, 422)
    number, _ = svc.current()
    name = upload.filename.replace("\n", " ")[:100]
    return propose(f"Import {name}", f"{base()}/versions", data=data,
                   keep_redacted=may_restore, base_version=number,
                   invalid=lambda exc: transfer({"backup": "the configuration in this file is "
                                                 "invalid: " + "; ".join(
                                                     f"{e.path}: {e.message}"
                                                     for e in exc.errors[:20])}, 422))
