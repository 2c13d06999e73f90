"""The admin API's configuration routes (and the public schema documents)."""

from __future__ import annotations

from flask import Response, request

from ssomw.admin import API, bp
from ssomw.admin.export import redact
from ssomw.admin.http import (
    CATCH_ALL,
    answer,
    author,
    can,
    changed,
    etag,
    expected_version,
    flag,
    json_body,
    needs,
    not_allowed_or_not_found,
    object_body,
    passphrase,
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
    doc = service().export(mode, passphrase())
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
    body = json_body("application/json")  # the request's own faults before preconditions
    if not isinstance(body, dict):
        raise AdminError(400, "bad_request", "a backup is a JSON object")
    secret = passphrase()
    expected = expected_version(svc, required=False)
    return changed(svc.import_document(body, passphrase=secret, author=author(),
                                       dry_run=dry_run, expected=expected))


@bp.post(f"{API}/config/preview")
@needs("config:read")
def preview_config() -> Response:
    """The impact of a configuration (``application/json``: a whole one, as for PUT) or of
    a merge patch (``application/merge-patch+json``, as for PATCH), without applying it."""
    body = object_body("application/json", MERGE_PATCH)
    svc = service()
    found = (svc.preview_patch(body) if request.mimetype == MERGE_PATCH
             else svc.preview(body))
    return answer(found.body(show_secrets=can("config:secrets")))


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
    svc.writable()
    svc.version(number)  # 404 for a version that does not exist, before any precondition
    expected = expected_version(svc, required=False)
    return changed(svc.rollback(number, author=author(), expected=expected))


@bp.route(f"{API}/", defaults={"rest": ""}, methods=CATCH_ALL)
@bp.route(f"{API}/<path:rest>", methods=CATCH_ALL)
def unknown(rest: str) -> Response:
    """JSON 404 for unknown paths, 405 (with Allow) for known paths and other methods."""
    return not_allowed_or_not_found()
