"""``GET /sso/auth``: the nginx ``auth_request`` target, and the gateway's hot path.

A plain WSGI callable rather than a Flask view: it runs on every request to every protected app,
so it does only what the decision needs — parse the original URL, match the app, read one
session record, evaluate the compiled rules — and never raises to nginx: bad input is refused
(403), a store outage is 503, and nothing here ever answers 200 by accident.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from .. import metrics
from ..core.headers import identity_headers, to_wsgi
from ..core.policy import Decision, Identity
from ..core.request_kind import is_navigation
from ..middleware.proxy import TrustedProxies
from ..middleware.request_id import supplied_request_id
from ..oidc.refresh import needs_refresh, refresh
from ..request_context import NO_REQUEST, bind_request_id, reset_request_id
from ..runtime import Runtime
from ..store.base import SessionRecord, StoreUnavailable

log = logging.getLogger("ssomw.auth")

StartResponse = Callable[..., Any]
MAX_URL = 8192
NO_STORE = ("Cache-Control", "no-store")


def read_cookie(header: str, name: str) -> str | None:
    """The first value of one cookie, as nginx's ``$cookie_<name>`` sees it.

    Taking the first occurrence (not the last) keeps the gateway's decision and an nginx
    decision cache keyed on ``$cookie_<name>`` about the same cookie.
    """
    if name not in header:
        return None
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip('"') or None
    return None


def is_local_login(paths: tuple[str, ...], path: str) -> bool:
    """``/login.jsp`` hides ``/login.jsp`` and anything below ``/login.jsp/``."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths)


def identity_of(record: SessionRecord) -> Identity:
    return Identity(user=record.user, provider=record.provider,
                    groups=frozenset(record.data.get("groups", ())))


def attributes_of(record: SessionRecord) -> dict[str, Any]:
    data = record.data
    profile = {f"profile.{k}": v for k, v in data.get("profile", {}).items()}
    return {
        **profile,
        "user": record.user,
        "email": data.get("email"),
        "preferred_username": data.get("preferred_username"),
        "name": data.get("name"),
        "groups": sorted(data.get("groups", ())),
        "provider": record.provider,
        "auth_method": data.get("auth_method"),
    }


class AuthEndpoint:
    """Answers nginx's subrequest per contract §2 (200 / 401 / 403 / 503).

    The Gateway calls it directly, outside the middleware the pages get: it binds nginx's
    request id for its log lines itself and resolves the client address (through the trusted
    proxies) only for apps whose rules look at it; it adds no ``X-Request-Id`` to its answer,
    which nginx never passes on.
    """

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time):
        self.runtime = runtime
        self.clock = clock
        self.proxies = TrustedProxies(None, runtime.trusted_proxies)
        self.header_names = {**runtime.config["headers"],
                             **runtime.identities.profile_headers()}
        self.cookie_name = runtime.config["session"]["name"]
        self.refresh_tokens = runtime.config["session"]["refresh_tokens"]
        metrics.register([app["id"] for app in runtime.config["apps"]],
                         [provider["id"] for provider in runtime.config["providers"]])
        self._rendered: dict[tuple[Any, ...], tuple[tuple[str, str], ...]] = {}
        # apps[].headers: the same attributes under extra names, for that app only.
        self.app_header_names = {
            app["id"]: {**self.header_names, **{
                f"app:{header}": header for header in app["headers"]}}
            for app in runtime.config["apps"] if app["headers"]}
        profile = set(runtime.config["profile"])
        self.app_sources = {
            app["id"]: [(f"app:{header}", f"profile.{attr}" if attr in profile else attr)
                        for header, attr in app["headers"].items()]
            for app in runtime.config["apps"] if app["headers"]}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        token = bind_request_id(supplied_request_id(environ) or NO_REQUEST)
        try:
            status, headers = self.decide(environ)
        finally:
            reset_request_id(token)
        start_response(status, headers)
        metrics.auth_decision(environ.get("ssomw.app_id", metrics.UNKNOWN),
                              metrics.auth_outcome(status, environ.get("ssomw.decision")),
                              time.perf_counter() - started)
        return [b""]

    def decide(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
        original = environ.get("HTTP_X_ORIGINAL_URL", "")
        method = environ.get("HTTP_X_ORIGINAL_METHOD", "GET").upper()
        try:
            parts = urlsplit(original) if len(original) <= MAX_URL else None
            host = (parts.hostname or "") if parts else ""
            _ = parts.port if parts else None  # a malformed port is bad input too
        except ValueError:
            parts, host = None, ""
        if not parts or parts.scheme not in ("http", "https") or not host:
            return "403 Forbidden", [NO_STORE]
        policy = self.runtime.config.policy
        app = policy.match_app(host, parts.path or "/")
        if app is None:
            return "403 Forbidden", [NO_STORE]
        environ["ssomw.app_id"] = app.id
        client_ip = self.proxies.client_ip(environ) if policy.uses_address(app) else ""
        path = parts.path or "/"
        if app.sso and app.local_login_paths and is_local_login(app.local_login_paths, path):
            return self.local_login(app, environ, parts)
        decision = policy.decide(app, method, path, client_ip, None)
        record = None
        if decision.outcome == "login":
            try:
                record = self.load_session(environ)
                if (record is not None and self.refresh_tokens
                        and needs_refresh(record, self.clock())):
                    record = refresh(self.runtime, record)
            except StoreUnavailable as exc:
                self.runtime.outage.failed("auth", exc)
                return "503 Service Unavailable", [NO_STORE]
            if record is not None:
                decision = policy.decide(app, method, path, client_ip, identity_of(record))
        return self.answer(decision, record, environ, original)

    def answer(self, decision: Decision, record: SessionRecord | None,
               environ: dict[str, Any], original: str) -> tuple[str, list[tuple[str, str]]]:
        outcome = environ["ssomw.decision"] = decision.outcome
        if outcome in ("bypass", "passthrough"):
            return "200 OK", [NO_STORE]
        if outcome == "forbidden":
            return "403 Forbidden", [NO_STORE]
        if outcome == "allow" and record is not None:
            answer = self.rendered_headers(record, decision.app_id)
            if decision.cache_scope != "none":
                # Lets an nginx decision cache keep this answer for under 1 s (see
                # nginxconf.py): to the end of this second, or — when nginx keys entries by a
                # second-long bucket, which alone bounds their use — the end of the next.
                # Scope "none" (rules on the client address) is never cached: no cache key
                # carries the address.
                bucketed = bool(environ.get("HTTP_X_SSOMW_CACHE_BUCKET"))
                answer.append(("X-Accel-Expires", f"@{int(self.clock()) + bucketed}"))
            return "200 OK", [*answer, NO_STORE]
        return self.login_required(environ, original)

    def load_session(self, environ: dict[str, Any]) -> SessionRecord | None:
        """The request's live session; raises StoreUnavailable (the caller answers 503)."""
        record = self.runtime.sessions.load(
            read_cookie(environ.get("HTTP_COOKIE", ""), self.cookie_name))
        self.runtime.outage.ok()
        return record

    def rendered_headers(self, record: SessionRecord, app_id: str) -> list[tuple[str, str]]:
        """Identity headers for a session at an app, WSGI-encoded; memoized by their input
        values, since the same few sessions ask again and again (the cache is bounded)."""
        attributes = attributes_of(record)
        for extra, source in self.app_sources.get(app_id, ()):
            attributes[extra] = attributes.get(source)
        key = (app_id, *((k, tuple(v) if isinstance(v, list) else v)
                         for k, v in attributes.items() if v is not None))
        try:
            cached = self._rendered.get(key)
        except TypeError:  # an unhashable attribute value (a dict): render without the memo
            key, cached = None, None
        if cached is not None:
            return list(cached)
        headers, dropped = identity_headers(self.app_header_names.get(app_id, self.header_names),
                                            attributes)
        if dropped:
            log.warning("dropped unsafe identity attributes %s for session of %r",
                        ",".join(dropped), record.user)
        rendered = tuple((name, to_wsgi(value)) for name, value in headers)
        if key is not None:
            if len(self._rendered) >= 8192:
                self._rendered.clear()
            self._rendered[key] = rendered
        return list(rendered)

    def local_login(self, app: Any, environ: dict[str, Any], parts: Any
                    ) -> tuple[str, list[tuple[str, str]]]:
        """The app's own login page is hidden while SSO is enforced: only a session made by
        the emergency login may reach it; everyone else is sent to SSO sign-in for the app's
        start page (not back to the hidden page, which would loop)."""
        try:
            record = self.load_session(environ)
        except StoreUnavailable as exc:
            self.runtime.outage.failed("auth", exc)
            return "503 Service Unavailable", [NO_STORE]
        if record is not None and record.data.get("auth_method") == "emergency":
            return "200 OK", [*self.rendered_headers(record, app.id), NO_STORE]
        port = f":{parts.port}" if parts.port else ""
        start = f"{parts.scheme}://{parts.hostname}{port}{app.path_prefix}"
        return self.login_required(environ, start)

    def login_required(self, environ: dict[str, Any], target: str
                       ) -> tuple[str, list[tuple[str, str]]]:
        headers = [NO_STORE]
        if is_navigation(environ.get("HTTP_X_ORIGINAL_METHOD", "GET"),
                         environ.get("HTTP_ACCEPT"), environ.get("HTTP_X_REQUESTED_WITH"),
                         environ.get("HTTP_SEC_FETCH_MODE"), environ.get("HTTP_SEC_FETCH_DEST")):
            headers.append(("Location", self.login_url(target)))
        return "401 Unauthorized", headers

    def login_url(self, original: str) -> str:
        public = self.runtime.config["server"].get("public_url")
        if public:
            base = public.rstrip("/")
        else:
            parts = urlsplit(original)  # already parsed once: known to be well-formed
            port = f":{parts.port}" if parts.port else ""
            base = f"{parts.scheme}://{parts.hostname}{port}"
        return f"{base}{self.runtime.prefix}/login?rd={quote(original, safe='')}"
