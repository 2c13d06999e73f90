"""HTTP plumbing for the admin API's routes: JSON answers and errors, the token check,
bodies, query parameters and ``If-Match``."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from ssomw.admin import bp
from ssomw.admin.auth import Request, authenticate
from ssomw.admin.export import MIN_PASSPHRASE
from ssomw.admin.service import MAX_DEPTH, AdminError, Change, ConfigService
from ssomw.config import ConfigError
from ssomw.store.base import StoreUnavailable
from ssomw.views.common import runtime

log = logging.getLogger("ssomw.admin")
MAX_BODY = 1024 * 1024
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)  # an unclosed one runs to the end
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, default=str), status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.errorhandler(AdminError)
def admin_error(exc: AdminError) -> Response:
    return answer(exc.body(), exc.status, exc.headers)


@bp.errorhandler(StoreUnavailable)
def store_down(exc: StoreUnavailable) -> Response:
    runtime().outage.failed("admin", exc)
    return answer({"error": "store_unavailable", "message": "the store is unreachable"}, 503)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    response = answer({"error": code, "message": exc.description or exc.name}, exc.code or 500)
    if exc.code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


@bp.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    log.exception("admin API: unhandled error")
    return answer({"error": "internal_error", "message": "unexpected error; see the log"}, 500)


@bp.before_request
def limits() -> None:
    request.max_content_length = MAX_BODY  # whole configuration documents, not just forms


def needs(scope: str, params: tuple[str, ...] = ()) -> Callable:
    """Run the view only for a caller allowed ``scope`` (see :mod:`.auth` for the order).

    Query parameters other than ``params`` are refused (400): a typo such as
    ``?dryrun=true`` must not silently turn a dry run into a change.
    """
    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            g.admin = authenticate(runtime(), Request(
                address=request.remote_addr or "",
                authorization=request.headers.get("Authorization"),
                method=request.method, path=request.path), scope)
            unknown = sorted(set(request.args) - set(params))
            repeated = sorted(k for k in request.args if len(request.args.getlist(k)) > 1)
            if unknown or repeated:
                raise AdminError(400, "bad_request", "unknown or repeated query parameter(s): "
                                 + ", ".join(unknown + repeated)[:200])
            return view(*args, **kwargs)
        return inner
    return wrap


def can(scope: str) -> bool:
    return g.admin.has(scope)


def author() -> str:
    return f"token:{g.admin.name}"


def service() -> ConfigService:
    rt = runtime()
    return ConfigService.for_config(rt.config, rt.store, via="api")


def json_body(*types: str) -> Any:
    mimetype = request.mimetype or ""
    if types and mimetype not in types:
        raise AdminError(415, "unsupported_media_type", f"send {' or '.join(types)}")
    raw = request.get_data(cache=False)
    if nesting_depth(raw) > MAX_DEPTH:
        raise AdminError(400, "bad_request", f"the body nests arrays or objects deeper than "
                         f"{MAX_DEPTH} levels")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise AdminError(400, "bad_request", "the body is not valid JSON") from exc


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in a JSON text, brackets inside strings not
    counted, found by one loop (no recursion, so any depth is measured, and before the parser
    or any walk of the document can run out of stack). Malformed text is measured as well as
    it can be; the parser refuses it afterwards."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def object_body(*types: str) -> dict[str, Any]:
    """A JSON object body: checked before any precondition, as a malformed request is a
    client error whatever version it names."""
    body = json_body(*types)
    if not isinstance(body, dict):
        raise AdminError(422, "invalid_config", "the configuration is invalid; nothing was "
                         "changed", [ConfigError("(top level)", "must be a JSON object")])
    return body


def passphrase() -> str | None:
    """``X-Export-Passphrase``, when sent: at least 12 characters, as the OpenAPI document
    says, whether or not this request needs one (a short one is a mistake either way)."""
    value = request.headers.get("X-Export-Passphrase")
    if value is not None and len(value) < MIN_PASSPHRASE:
        raise AdminError(400, "passphrase_required", f"X-Export-Passphrase must be at least "
                         f"{MIN_PASSPHRASE} characters")
    return value


def method_not_allowed() -> Response:
    """The app's 405 for a path under the admin API (a method no route takes, such as QUERY):
    JSON, with ``Allow`` as the endpoint's OpenAPI entry lists it."""
    try:
        return not_allowed_or_not_found()
    except AdminError as exc:
        return admin_error(exc)


@bp.before_request
def options() -> Response | None:
    """OPTIONS lists exactly the methods the endpoint's OpenAPI entry has (Flask's automatic
    answer would list the catch-all route's methods too); 404 where there is no endpoint."""
    if request.method != "OPTIONS" or request.blueprint != "admin":
        return None
    try:
        not_allowed_or_not_found()
    except AdminError as exc:
        if exc.status != 405:
            raise
        allowed = exc.headers["Allow"].split(", ")
    return Response(status=204, headers={"Allow": ", ".join([*allowed, "OPTIONS"]),
                                         "Cache-Control": "no-store"})


CATCH_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"]


def not_allowed_or_not_found() -> Response:
    """The answer for a method an endpoint does not take (405 with the methods it does take
    in ``Allow``, as its OpenAPI entry lists them), or for a path that is no endpoint (404).
    Also what any other method gets (QUERY, OPTIONS...): the app's 405 handler sends those
    here when the path is under the admin API."""
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
                         f"{request.method[:16]}", headers={"Allow": ", ".join(allowed)})
    raise AdminError(404, "not_found", "no such admin API endpoint")


def flag(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise AdminError(400, "bad_request", f"{name} must be true or false")
    return value in ("true", "1")


def expected_version(svc: ConfigService, required: bool) -> int | None:
    """The version ``If-Match`` names when it is the active one; 428 / 412 otherwise."""
    number, _ = svc.current()
    if "If-Match" not in request.headers:
        if required:
            raise AdminError(428, "precondition_required", 'send If-Match: "<version>" from '
                             "the ETag of GET /config")
        return None
    tags = request.if_match
    if tags.star_tag:
        return None
    if number is not None and tags.contains(str(number)):
        return number
    raise svc.conflict(number)


def etag(number: int | None) -> dict[str, str]:
    return {"ETag": f'"{number}"'} if number is not None else {}


def changed(change: Change, status: int = 200) -> Response:
    headers = etag(change.version) if not change.dry_run else {}
    return answer(change.body(show_secrets=can("config:secrets")), status, headers)
