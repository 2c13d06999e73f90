"""A request id for every request: nginx's ``X-Request-Id`` when sane, else a fresh one.

Usage::

    app = RequestId(app)

The id is stored in ``environ["ssomw.request_id"]``, echoed as ``X-Request-Id`` and shown on
error pages, so a user's report can be matched to the log line; it is also bound for the
request's log records (ssomw/request_context.py), which then carry it as ``request_id``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any

from ssomw.telemetry.request_context import bind_request_id, reset_request_id

SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


def supplied_request_id(environ: dict[str, Any]) -> str | None:
    """nginx's ``X-Request-Id`` when it is sane (it ends up in log lines), else None."""
    supplied = environ.get("HTTP_X_REQUEST_ID", "")
    return supplied if SANE_ID.match(supplied) else None


class RequestId:
    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request_id = supplied_request_id(environ) or secrets.token_hex(12)
        environ["ssomw.request_id"] = request_id

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-Id", request_id))
            return start_response(status, headers, exc_info)

        token = bind_request_id(request_id)
        try:
            return self.app(environ, start)
        finally:
            reset_request_id(token)
