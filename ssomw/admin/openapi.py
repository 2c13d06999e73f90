"""The OpenAPI 3.1 document for the admin API, served at ``{prefix}/api/v1/openapi.json``.

Built from small helpers so each operation reads as one line of intent; the schemathesis test
(``tests/admin/test_openapi.py``) checks the running API against exactly this document.
"""

from __future__ import annotations

from typing import Any

from ssomw.config.schema import ADMIN_SCOPES

JSON = "application/json"
NUMBER_OR_NULL = {"type": ["number", "null"]}
ERROR_TEXT = {
    400: "bad request (the message says what)", 401: "no token, or an unknown token",
    403: "address not in admin.allow_from, or the token lacks the scope",
    404: "not found", 409: "conflict (see the error code)",
    412: "the active version is not the one in If-Match", 413: "body larger than 1 MiB",
    415: "wrong Content-Type", 422: "invalid: every problem with its path",
    428: "If-Match is required", 429: "too many wrong tokens from this address",
    503: "the store is unreachable",
}
COMMON = (400, 401, 403, 404, 429, 503)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def content(schema: dict[str, Any], media: str = JSON) -> dict[str, Any]:
    return {media: {"schema": schema}}


def error(status: int) -> dict[str, Any]:
    out: dict[str, Any] = {"description": ERROR_TEXT[status], "content": content(ref("Error"))}
    if status == 401:
        out["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}}
    return out


def op(summary: str, scope: str | None, ok: dict[int, dict[str, Any]], *,
       errors: tuple[int, ...] = (), params: list[dict[str, Any]] | None = None,
       body: dict[str, Any] | None = None, note: str = "") -> dict[str, Any]:
    responses: dict[str, Any] = {str(code): spec for code, spec in ok.items()}
    for code in (*COMMON, *errors) if scope else (404,):
        responses[str(code)] = error(code)
    operation: dict[str, Any] = {"summary": summary, "responses": responses,
                                 "security": [{"bearer": []}] if scope else []}
    if scope:
        operation["description"] = f"Needs the scope `{scope}`." + (f" {note}" if note else "")
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    return operation


def ok(description: str, schema: dict[str, Any] | None = None,
       headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = content(schema)
    if headers:
        out["headers"] = headers
    return out


def param(name: str, where: str, schema: dict[str, Any], required: bool = False,
          description: str = "") -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": description}


def body(schema: dict[str, Any], media: str = JSON) -> dict[str, Any]:
    return {"required": True, "content": content(schema, media)}


ETAG = {"ETag": {"schema": {"type": "string"}, "description": 'the version, as "<n>"'}}
IF_MATCH = param("If-Match", "header", {"type": "string"}, True,
                 'the ETag of GET /config: "<version>"')
IF_MATCH_OPTIONAL = param("If-Match", "header", {"type": "string"}, False,
                          'when given, the change applies only to this version')
PASSPHRASE = param("X-Export-Passphrase", "header", {"type": "string", "minLength": 12}, False,
                   "passphrase of an encrypted backup (at least 12 characters)")
#: What /explain can judge: an absolute http(s) URL with a plain host and port.
EXPLAIN_URL = {"type": "string", "pattern": r"^https?://[A-Za-z0-9][A-Za-z0-9.-]{0,252}"
               r"(:[1-9][0-9]{0,3})?([/?#].*)?$"}
GROUP_NAME = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": r"\S"}
NUMBER = param("number", "path", {"type": "integer", "minimum": 1})
USER = param("user", "path", {"type": "string", "minLength": 1})


def schemas() -> dict[str, Any]:
    string_list = {"type": "array", "items": {"type": "string"}}
    return {
        "Error": {"type": "object", "required": ["error", "message"], "properties": {
            "error": {"type": "string"}, "message": {"type": "string"},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}}},
        "Config": {"type": "object", "description": "a configuration document as written "
                   "(JSON Schema at /schema); secrets are \"***\" without config:secrets"},
        "Change": {"type": "object", "required": ["version", "dry_run", "changes", "diff"],
                   "properties": {"version": {"type": ["integer", "null"]},
                                  "dry_run": {"type": "boolean"},
                                  "changes": {"type": "integer"},
                                  "diff": {"type": "array", "items": {
                                      "type": "object", "required": ["op", "path"],
                                      "properties": {"op": {"enum": ["add", "remove",
                                                                     "change"]},
                                                     "path": {"type": "string"}}}}}},
        "Backup": {"type": "object", "required": ["format", "version", "exported_at",
                                                  "secrets"],
                   "properties": {"format": {"const": "ssomw-config"},
                                  "version": {"type": ["integer", "null"]},
                                  "exported_at": {"type": "string"},
                                  "secrets": {"enum": ["redacted", "encrypted"]},
                                  "config": {"type": "object"},
                                  "encrypted": {"type": "string",
                                                "description": "JWE compact: PBES2-HS512+A256KW"
                                                ", A256GCM"}}},
        "AccessChange": {"type": "object", "required": ["app", "before", "after"],
                         "properties": {"app": {"type": "string"},
                                        "before": {"type": "string"},
                                        "after": {"type": "string"},
                                        "reason": {"type": "string"}}},
        "Preview": {"type": "object", "required": ["version", "changes", "diff", "known_users",
                                                   "live_sessions", "users", "sessions"],
                    "properties": {
                        "version": {"type": ["integer", "null"]},
                        "changes": {"type": "integer"},
                        "diff": {"type": "array", "items": {"type": "object"}},
                        "known_users": {"type": "integer"},
                        "live_sessions": {"type": "integer"},
                        "users": {"type": "array", "items": {
                            "type": "object", "required": ["user", "gains", "loses", "apps",
                                                           "groups"],
                            "properties": {"user": {"type": "string"},
                                           "provider": {"type": ["string", "null"]},
                                           "gains": string_list, "loses": string_list,
                                           "apps": {"type": "array",
                                                    "items": ref("AccessChange")},
                                           "groups": {"type": "object", "properties": {
                                               "added": string_list,
                                               "removed": string_list}}}}},
                        "sessions": {"type": "array", "items": {
                            "type": "object", "required": ["id", "user", "provider", "ends"],
                            "properties": {"id": {"type": "string"},
                                           "user": {"type": "string"},
                                           "provider": {"type": "string"},
                                           "ends": {"type": ["string", "null"]},
                                           "gains": string_list, "loses": string_list,
                                           "headers": {"type": "array",
                                                       "items": {"type": "object"}}}}}}},
        "VersionMeta": {"type": "object", "required": ["number", "author", "time", "comment",
                                                       "changes"],
                        "properties": {"number": {"type": "integer"},
                                       "author": {"type": "string"},
                                       "time": {"type": "number"},
                                       "comment": {"type": "string"},
                                       "changes": {"type": "integer"}}},
        "Session": {"type": "object", "required": ["id", "user", "provider", "created",
                                                   "last_seen", "expires"],
                    "properties": {"id": {"type": "string"}, "user": {"type": "string"},
                                   "provider": {"type": "string"},
                                   "created": {"type": "number"},
                                   "last_seen": {"type": "number"},
                                   "expires": {"type": "number"},
                                   "auth_method": {"type": ["string", "null"]}}},
        "Grant": {"type": "object", "required": ["name", "source", "origin", "via"],
                  "properties": {"name": {"type": "string"}, "source": {"type": "string"},
                                 "origin": {"type": "string"}, "via": string_list}},
        "Groups": {"type": "object", "required": ["user", "local", "known", "groups"],
                   "properties": {"user": {"type": "string"}, "local": string_list,
                                  "known": {"type": "boolean"},
                                  "resolved_at": NUMBER_OR_NULL,
                                  "groups": {"type": "array", "items": ref("Grant")}}},
        "SyncStatus": {"type": "object", "required": ["configured", "running",
                                                      "last_report", "last_error"],
                       "properties": {"configured": {"type": "boolean"},
                                      "running": {"type": "boolean"},
                                      "last_report": {"type": ["object", "null"]},
                                      "last_error": {"type": ["object", "null"]}}},
        "Explanation": {"type": "object", "required": ["url", "app", "final", "rules"],
                        "properties": {"url": {"type": "string"},
                                       "app": {"type": ["object", "null"]},
                                       "user": {"type": ["object", "null"]},
                                       "rules": {"type": "array", "items": {"type": "object"}},
                                       "decision": {"type": ["object", "null"]},
                                       "routing": {"type": ["object", "null"]},
                                       "final": {"enum": ["allow", "deny", "login",
                                                          "passthrough", "bypass"]},
                                       "reason": {"type": "string"}}},
    }


def paths() -> dict[str, Any]:
    change = {200: ok("the change is active; ETag names the new version", ref("Change"),
                      ETAG)}
    config_write = (409, 412, 413, 415, 422, 428)
    return {
        "/schema": {"get": op("The configuration JSON Schema", None,
                              {200: ok("JSON Schema 2020-12", {"type": "object"})})},
        "/openapi.json": {"get": op("This document", None,
                                    {200: ok("OpenAPI 3.1", {"type": "object"})})},
        "/config": {
            "get": op("The active configuration (secrets redacted without config:secrets)",
                      "config:read", {200: ok("the configuration", ref("Config"), ETAG)}),
            "put": op("Replace the configuration; \"***\" keeps a current secret",
                      "config:write", change, errors=config_write, params=[IF_MATCH],
                      body=body(ref("Config"))),
            "patch": op("Change the configuration with a JSON merge patch (RFC 7396)",
                        "config:write", change, errors=config_write, params=[IF_MATCH],
                        body=body({"type": "object"}, "application/merge-patch+json")),
        },
        "/config/export": {"get": op(
            "A backup file; encrypt needs config:secrets and X-Export-Passphrase",
            "config:read", {200: ok("the backup", ref("Backup"))},
            params=[param("secrets", "query", {"enum": ["redact", "encrypt"]}), PASSPHRASE],
            note="`secrets=encrypt` without `X-Export-Passphrase` is a 400 "
                 "(`passphrase_required`).")},
        "/config/import": {"post": op(
            "Validate a backup (dry_run) or apply it as a new version (config:write)",
            "config:read", {200: ok("the diff, and the version now active", ref("Change"))},
            errors=(409, 412, 413, 415, 422),
            params=[param("dry_run", "query", {"type": "boolean"}), PASSPHRASE,
                    IF_MATCH_OPTIONAL],
            body=body({"type": "object"}))},
        "/config/preview": {"post": op(
            "Who would gain or lose access, and which live sessions would end or change, "
            "if this configuration (or merge patch) were applied; nothing changes",
            "config:read", {200: ok("the diff and the impact", ref("Preview"))},
            errors=(409, 413, 415, 422),
            body={"required": True, "content": {
                JSON: {"schema": ref("Config")},
                "application/merge-patch+json": {"schema": {"type": "object"}}}},
            note="A whole configuration as `application/json` (as for PUT), or a merge "
                 "patch as `application/merge-patch+json` (as for PATCH); `\"***\"` keeps "
                 "a current secret. Known users are those with a live session or a stored "
                 "record; access is judged at each app's start page.")},
        "/config/versions": {"get": op("The version history", "config:read", {200: ok(
            "versions, oldest first", {"type": "object", "required": ["active", "versions"],
                                       "properties": {
                                           "active": {"type": ["integer", "null"]},
                                           "config_source": {"enum": ["store", "file"]},
                                           "versions": {"type": "array",
                                                        "items": ref("VersionMeta")}}})})},
        "/config/versions/{number}": {"get": op(
            "One version with its data and diff (redacted)", "config:read",
            {200: ok("the version", {"allOf": [ref("VersionMeta"), {
                "type": "object", "required": ["data", "diff"],
                "properties": {"data": {"type": "object"}, "diff": {"type": "array"}}}]})},
            params=[NUMBER])},
        "/config/rollback/{number}": {"post": op(
            "Make an old version's data active again, as a new version", "config:write",
            change, errors=(409, 412, 422), params=[NUMBER, IF_MATCH_OPTIONAL])},
        "/sessions": {"get": op("Live sessions (no cookies, no tokens)", "sessions:admin",
                                {200: ok("sessions", {"type": "object",
                                                      "required": ["sessions"],
                                                      "properties": {"sessions": {
                                                          "type": "array",
                                                          "items": ref("Session")}}})},
                                params=[param("user", "query", {"type": "string"})])},
        "/sessions/{session_id}": {"delete": op(
            "End one session on every instance", "sessions:admin",
            {204: {"description": "ended"}},
            params=[param("session_id", "path", {"type": "string", "minLength": 1})])},
        "/users/{user}/sessions": {"delete": op(
            "Force logout: end every session of the user", "sessions:admin",
            {204: {"description": "ended"}}, params=[USER])},
        "/users/{user}/groups": {
            "get": op("Local groups and the last resolved groups with their sources",
                      "sessions:admin", {200: ok("groups", ref("Groups"))}, params=[USER]),
            "put": op("Replace the user's local groups", "sessions:admin",
                      {200: ok("the local groups now", {"type": "object"})},
                      errors=(413, 415, 422), params=[USER],
                      body=body({"type": "object", "required": ["groups"], "properties": {
                          "groups": {"type": "array", "maxItems": 1000,
                                     "items": GROUP_NAME}}})),
        },
        "/directory/sync": {"post": op(
            "Start a directory sync in the background", "directory:sync",
            {202: ok("started (or already running)", {
                "type": "object", "required": ["started", "running", "status_url"],
                "properties": {"started": {"type": "boolean"}, "running": {"type": "boolean"},
                               "status_url": {"type": "string"}}},
                {"Location": {"schema": {"type": "string"}, "required": True}})},
            errors=(409,))},
        "/directory/sync/status": {"get": op("The last sync report, and whether one runs",
                                             "directory:sync",
                                             {200: ok("status", ref("SyncStatus"))})},
        "/explain": {"get": op(
            "Why a user would be allowed or denied at a URL", "config:read",
            {200: ok("app, rules, decision, provider routing, groups with sources",
                     ref("Explanation"))},
            params=[param("url", "query", EXPLAIN_URL, True),
                    param("user", "query", {"type": "string"},
                          description="needs `sessions:admin` as well (403 without)"),
                    param("method", "query", {"type": "string"}),
                    param("client_ip", "query", {"type": "string"}),
                    param("provider", "query", {"type": "string"}),
                    param("email", "query", {"type": "string"})],
            note="With `user`, also `sessions:admin`: the answer then holds that user's "
                 "groups, their sources and live session count.")},
        "/broker/clients": {"get": op(
            "The broker's issuer and clients (no secret hashes)", "config:read",
            {200: ok("issuer and clients", {
                "type": "object", "required": ["issuer", "clients"], "properties": {
                    "issuer": {"type": ["string", "null"]},
                    "clients": {"type": "array", "items": {
                        "type": "object", "required": ["client_id", "app", "public",
                                                       "redirect_uris"],
                        "properties": {"client_id": {"type": "string"},
                                       "app": {"type": "string"},
                                       "public": {"type": "boolean"},
                                       "has_secret": {"type": "boolean"},
                                       "redirect_uris": {"type": "array",
                                                         "items": {"type": "string"}}}}}}})})},
        "/audit": {"get": op(
            "Audit events, oldest first", "audit:read",
            {200: ok("events", {"type": "object", "required": ["events"], "properties": {
                "events": {"type": "array", "items": {
                    "type": "object", "required": ["type", "time"],
                    "properties": {"type": {"type": "string"}, "time": {"type": "number"}}}}}})},
            params=[param("since", "query", {"anyOf": [
                        {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,6})?$"},
                        {"type": "string", "format": "date-time"}]},
                          description="epoch seconds or an RFC 3339 date-time"),
                    param("type", "query", {"type": "string"}),
                    param("limit", "query", {"type": "integer", "minimum": 1,
                                             "maximum": 10000})])},
    }


def openapi_document(prefix: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "ssomw admin API", "version": "1",
                 "description": "Scopes: " + ", ".join(ADMIN_SCOPES) + ". Tokens: "
                 "`ssomw token create` or admin.tokens in the config."},
        "servers": [{"url": f"{prefix}/api/v1"}],
        "paths": paths(),
        "components": {"schemas": schemas(), "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }
