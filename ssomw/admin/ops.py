"""The admin API's operational routes: sessions, users' groups, directory sync, explain, audit."""

from __future__ import annotations

import re
import time
from datetime import datetime

from flask import Response, request

from ssomw.admin import API, actions, bp
from ssomw.admin.auth import insufficient_scope
from ssomw.admin.explain import ExplainError, explain
from ssomw.admin.http import answer, author, can, json_body, needs
from ssomw.admin.jobs import start_sync, sync_status
from ssomw.admin.service import AdminError
from ssomw.broker.clients import described
from ssomw.broker.server import broker_issuer
from ssomw.config import ConfigError
from ssomw.identity.users import load_user, local_groups
from ssomw.telemetry import audit
from ssomw.views.common import runtime

MAX_GROUPS = 1000
EPOCH = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")


# --- sessions and users ----------------------------------------------------------------------

@bp.get(f"{API}/sessions")
@needs("sessions:admin", ("user",))
def list_sessions() -> Response:
    rt = runtime()
    user = request.args.get("user")
    records = rt.store.sessions_by_user(user) if user else rt.store.all_sessions()
    idle = rt.config["session"]["idle_timeout"]
    return answer({"sessions": [
        {"id": r.id, "user": r.user, "provider": r.provider, "created": r.created,
         "last_seen": r.last_seen, "expires": r.deadline(idle),
         "auth_method": r.data.get("auth_method")}
        for r in sorted(records, key=lambda r: r.created)]})


@bp.delete(f"{API}/sessions/<session_id>")
@needs("sessions:admin")
def delete_session(session_id: str) -> Response:
    actions.end_session(runtime(), session_id, author(), "api")
    return Response(status=204)


@bp.delete(f"{API}/users/<user>/sessions")
@needs("sessions:admin")
def delete_user_sessions(user: str) -> Response:
    actions.end_user_sessions(runtime(), user, author(), "api")
    return Response(status=204)


@bp.get(f"{API}/users/<user>/groups")
@needs("sessions:admin")
def get_groups(user: str) -> Response:
    rt = runtime()
    record = load_user(rt.store, user)
    grants = sorted(record.grants, key=lambda g: g.name) if record else []
    return answer({"user": user, "local": local_groups(rt.store, user), "known": bool(record),
                   "resolved_at": record.synced_at if record else None,
                   "groups": [{"name": g.name, "source": g.source, "origin": g.origin,
                               "via": list(g.via)} for g in grants]})


@bp.put(f"{API}/users/<user>/groups")
@needs("sessions:admin")
def put_groups(user: str) -> Response:
    body = json_body("application/json")
    names = body.get("groups") if isinstance(body, dict) else None
    if (not isinstance(names, list) or len(names) > MAX_GROUPS
            or not all(isinstance(n, str) and 0 < len(n.strip()) <= 256 for n in names)):
        raise AdminError(422, "invalid_groups", "send {\"groups\": [names]}",
                         [ConfigError("groups", f"must be a list of at most {MAX_GROUPS} non-empty "
                                           "names (up to 256 characters each)")])
    result = actions.set_local_groups(runtime(), user, names, author(), "api")
    return answer({"user": user, "local": result.local, "groups": result.groups,
                   "sessions": result.sessions,
                   "effective": "now" if result.groups is not None or result.sessions
                   else "at the user's first sign-in"})


# --- directory, explain, audit ---------------------------------------------------------------

@bp.post(f"{API}/directory/sync")
@needs("directory:sync")
def directory_sync() -> Response:
    rt = runtime()
    if rt.identities.directory is None:
        raise AdminError(409, "no_directory", "no directory.ldap is configured")
    started = start_sync(rt)
    if started:
        audit.record(rt.store, "directory_sync_started", author=author())
    status_url = f"{rt.config.prefix}{API}/directory/sync/status"
    return answer({"started": started, "running": True, "status_url": status_url}, 202,
                  {"Location": status_url})


@bp.get(f"{API}/directory/sync/status")
@needs("directory:sync")
def directory_sync_status() -> Response:
    rt = runtime()
    return answer({"configured": rt.identities.directory is not None, **sync_status(rt)})


@bp.get(f"{API}/explain")
@needs("config:read", ("url", "user", "method", "client_ip", "provider", "email"))
def explain_view() -> Response:
    """With ``user=`` the answer holds that user's groups, their sources and session count:
    user data, which otherwise needs ``sessions:admin``, so it needs that scope too."""
    url = request.args.get("url")
    if not url:
        raise AdminError(400, "bad_request", "give url=<the full URL of the request>")
    if "user" in request.args and not can("sessions:admin"):
        raise insufficient_scope("sessions:admin", "explain with user=")
    try:
        return answer(explain(runtime(), url, request.args.get("user") or None,
                              method=request.args.get("method", "GET")[:16],
                              client_ip=request.args.get("client_ip", "127.0.0.1"),
                              provider=request.args.get("provider") or None,
                              email=request.args.get("email") or None))
    except ExplainError as exc:
        raise AdminError(400, "bad_request", str(exc)) from exc


@bp.get(f"{API}/broker/clients")
@needs("config:read")
def broker_clients() -> Response:
    """The broker's issuer and clients (contract §12), without their secret hashes."""
    rt = runtime()
    return answer({"issuer": broker_issuer(rt),
                   "clients": [described(c) for c in rt.config["broker"]["clients"]]})


@bp.get(f"{API}/audit")
@needs("audit:read", ("since", "type", "limit"))
def audit_events() -> Response:
    since = _since(request.args.get("since"))
    limit = request.args.get("limit", "1000")
    if not limit.isdigit() or not 1 <= int(limit) <= 10000:
        raise AdminError(400, "bad_request", "limit must be a number from 1 to 10000")
    events = audit.query(runtime().store, since=since,
                         event_type=request.args.get("type") or None, limit=int(limit))
    return answer({"events": events})


def _since(value: str | None) -> float:
    """Epoch seconds (digits, as the OpenAPI document says), or an ISO 8601 time
    (``2024-05-01T12:00:00Z``); anything else, an empty value too, is a 400."""
    if value is None:
        return 0.0
    if EPOCH.fullmatch(value):
        return float(value)
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise AdminError(400, "bad_request", "since must be epoch seconds or ISO 8601") from exc
    return moment.timestamp() if moment.tzinfo else time.mktime(moment.timetuple())
