"""``GET /sso/auth``: the nginx ``auth_request`` target, and the gateway's hot path.

A plain WSGI callable rather than a Flask view: it runs on every request to every protected
app. The decision is :class:`ssomw.gateway.access.Access`; this adapter binds nginx's request
id for the log lines, answers, and counts the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ssomw.gateway.access import Access, Answer
from ssomw.gateway.runtime import Runtime
from ssomw.middleware.request_id import supplied_request_id
from ssomw.telemetry import metrics
from ssomw.telemetry.request_context import NO_REQUEST, bind_request_id, reset_request_id

StartResponse = Callable[..., Any]


class AuthEndpoint:
    """Answers nginx's subrequest. The Gateway calls it directly, outside the middleware the
    pages get; it adds no ``X-Request-Id`` to its answer, which nginx never passes on."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time):
        self.access = Access(runtime, clock)

    def decide(self, environ: dict[str, Any]) -> Answer:
        return self.access.decide(environ)

    def judge(self, environ: dict[str, Any]) -> Answer:
        """The decision for ``environ``, logged under the proxy's request id and counted;
        every front door (``/auth``, ``/forward-auth``, ``/ext-authz/``) asks through here."""
        started = time.perf_counter()
        token = bind_request_id(supplied_request_id(environ) or NO_REQUEST)
        try:
            status, headers = self.access.decide(environ)
        finally:
            reset_request_id(token)
        metrics.auth_decision(environ.get("ssomw.app_id", metrics.UNKNOWN),
                              metrics.auth_outcome(status, environ.get("ssomw.decision")),
                              time.perf_counter() - started)
        return status, headers

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response(*self.judge(environ))
        return [b""]
