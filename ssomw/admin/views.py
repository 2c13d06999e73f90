"""The admin API's configuration routes (and the public schema documents)."""

from __future__ import annotations

from flask import Response, current_app, request
from werkzeug.exceptions import HTTPException

from ssomw.admin import API, bp
from ssomw.admin.export import redact
from ssomw.admin.http import (
    answer,
    author,
    can,
    changed,
    etag,
    expected_version,
    flag,
    json_body,
    needs,
    object_body,
    service,
)
from ssomw.admin.openapi import openapi_document
from ssomw.admin.service import AdminError
from ssomw.config.schema import config_schema
from ssomw.telemetry import audit
from ssomw.views.common import runtime

MERGE_PATCH = "application/merge-patch+json"


# --- public documents ------------------------------------------------------------------------

@bp.get(f"{API}/schema")
def schema() -> Response:
    return answer(config_schema())


@bp.get(f"{API}/openapi.json")
def openapi() -> Response:
    return answer(openapi_document(runtime().config.prefix))


# --- configuration ---------------------------------------------------------------------------

@bp.get(f"{API}/config")
@needs("config:read")
def get_config() -> Response:
    number, data = service().current()
    return answer(data if can("config:secrets") else redact(data), headers=etag(number))


@bp.put(f"{API}/config")
@needs("config:write")
def put_config() -> Response:
    svc = service()
    svc.writable()
    body = object_body("application/json")
    expected = expected_version(svc, required=True)
    return changed(svc.apply(body, author=author(), expected=expected,
                             comment=request.headers.get("X-Change-Comment", "")[:200]))


@bp.patch(f"{API}/config")
@needs("config:write")
def patch_config() -> Response:
    svc = service()
    svc.writable()
    body = object_body(MERGE_PATCH)
    expected = expected_version(svc, required=True)
    return changed(svc.patch(body, author=author(), expected=expected,
                             comment=request.headers.get("X-Change-Comment", "")[:200]))


@bp.get(f"{API}/config/export")
@needs("config:read", ("secrets",))
def export_config() -> Response:
    mode = request.args.get("secrets", "redact")
    if mode not in ("redact", "encrypt"):
        raise AdminError(400, "bad_request", "secrets must be redact or encrypt")
    if mode == "encrypt" and not can("config:secrets"):
        raise AdminError(403, "insufficient_scope", "an encrypted export needs config:secrets")
    doc = service().export(mode, request.headers.get("X-Export-Passphrase"))
    audit.record(runtime().store, "config_exported", author=author(), secrets=mode,
                 version=doc["version"])
    name = f"ssomw-config-v{doc['version'] or 'file'}.json"
    return answer(doc, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post(f"{API}/config/import")
@needs("config:read", ("dry_run",))
def import_config() -> Response:
    dry_run = flag("dry_run")
    if not dry_run and not can("config:write"):
        raise AdminError(403, "insufficient_scope", "applying an import needs config:write")
    svc = service()
    body = json_body("application/json")
    expected = expected_version(svc, required=False)
    return changed(svc.import_document(
        body, passphrase=request.headers.get("X-Export-Passphrase"), author=author(),
        dry_run=dry_run, expected=expected))


@bp.get(f"{API}/config/versions")
@needs("config:read")
def versions() -> Response:
    return answer(service().history())


@bp.get(f"{API}/config/versions/<int:number>")
@needs("config:read")
def version(number: int) -> Response:
    return answer(service().version(number, show_secrets=can("config:secrets")))


@bp.post(f"{API}/config/rollback/<int:number>")
@needs("config:write")
def rollback(number: int) -> Response:
    svc = service()
    expected = expected_version(svc, required=False)
    return changed(svc.rollback(number, author=author(), expected=expected))


CATCH_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"]


@bp.route(f"{API}/", defaults={"rest": ""}, methods=CATCH_ALL)
@bp.route(f"{API}/<path:rest>", methods=CATCH_ALL)
def unknown(rest: str) -> Response:
    """JSON 404 for unknown paths, 405 (with Allow) for known paths and other methods."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in CATCH_ALL[:-1]:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "admin.unknown":
            allowed.append(method)
    if allowed:
        raise AdminError(405, "method_not_allowed", "this endpoint does not take "
                         f"{request.method}", headers={"Allow": ", ".join(allowed)})
    raise AdminError(404, "not_found", "no such admin API endpoint")
