"""The current request's id, for every log line written while the request is handled.

nginx sends ``X-Request-Id: $request_id``; the RequestId middleware binds it here for the
duration of the request, and :class:`RequestIdFilter` (on the log handler) copies it onto each
record, so one id ties nginx's access log, the gateway's log lines and the id shown on an error
page together. A context variable rather than a global: each thread (the housekeeping thread,
threaded servers) sees only its own request, and lines logged outside any request carry none.

    token = bind_request_id(request_id)
    try:
        return app(environ, start_response)
    finally:
        reset_request_id(token)
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token

NO_REQUEST = "-"
_request_id: ContextVar[str] = ContextVar("ssomw_request_id", default=NO_REQUEST)


def bind_request_id(request_id: str) -> Token[str]:
    """Make ``request_id`` current; pass the token to :func:`reset_request_id` afterwards."""
    return _request_id.set(request_id)


def reset_request_id(token: Token[str]) -> None:
    _request_id.reset(token)


def current_request_id() -> str:
    """The id of the request being handled, or ``"-"`` outside any request."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` (``"-"`` outside a request); never drops a record.

    Attach it to the handler, not a logger: a logger's filters do not see records that
    propagate up from its child loggers (``ssomw.auth`` → ``ssomw``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True
