"""The access decision behind every front door (nginx ``auth_request`` today).

It does only what the decision needs — parse the original URL, match the app, read one session
record, evaluate the compiled rules — and never raises: bad input is refused (403), a store
outage is 503, and nothing here ever answers 200 by accident. The front doors (``views/``)
only parse their request into the WSGI environ keys read here and send the answer on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from ssomw.config.schema import identity_header_names
from ssomw.core.apps import Api, App, is_local_login
from ssomw.core.assurance import Identity
from ssomw.core.headers import identity_headers, to_wsgi
from ssomw.core.memo import Memo
from ssomw.core.policy import Decision, Match
from ssomw.core.redirects import normalise_host
from ssomw.core.request_kind import is_navigation
from ssomw.core.target import Target, raw_cookie, read_cookie, split_target
from ssomw.gateway.bearer import Bearers
from ssomw.gateway.runtime import Runtime
from ssomw.identity.assertion import Assertions
from ssomw.integration.nginx import IDENTITY_FAMILY, overwritten_headers
from ssomw.middleware.proxy import TrustedProxies
from ssomw.oidc.refresh import needs_refresh, refresh
from ssomw.session.manager import identity_of
from ssomw.store.base import SessionRecord, StoreUnavailable
from ssomw.telemetry import metrics
from ssomw.telemetry.logs import Sparse

log = logging.getLogger("ssomw.auth")

NO_STORE = ("Cache-Control", "no-store")
_FAMILY_KEY = "HTTP_" + IDENTITY_FAMILY.upper().replace("-", "_")
Answer = tuple[str, list[tuple[str, str]]]
# ingress-nginx sends X-Auth-Request-Redirect (the request URI) in every auth subrequest: a
# member of the family that names no identity, so it is not taken for a forged one.
PROXY_SENT = "HTTP_X_AUTH_REQUEST_REDIRECT"


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


def challenge(app_id: str, error: str | None = None) -> tuple[str, str]:
    """RFC 6750 §3 ``WWW-Authenticate`` for an API client of ``app_id``."""
    value = f'Bearer realm="{app_id}"'
    if error:
        value += f', error="{error}"'
    return "WWW-Authenticate", value


class _View(NamedTuple):
    record: SessionRecord
    identity: Identity
    headers: dict[str, tuple[tuple[str, str], ...]]  # per app id, filled on first use


class Access:
    """Decides one request per contract §2 (200 / 401 / 403 / 503), for one configuration."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time):
        self.runtime = runtime
        self.clock = clock
        self.proxies = TrustedProxies(None, runtime.trusted_proxies)
        self.header_names = {**identity_header_names(runtime.config["headers"]),
                             **runtime.identities.profile_headers()}
        # headers.assertion: a signed JWT of the identity per app (off when unset).
        self.assertion_header = runtime.config["headers"].get("assertion")
        self.assertions = (Assertions(runtime.keys, runtime.config["server"].get("public_url"),
                                      runtime.prefix, clock)
                           if self.assertion_header else None)
        self.cookie_name = runtime.config["session"]["name"]
        self.refresh_tokens = runtime.config["session"]["refresh_tokens"]
        metrics.register([app["id"] for app in runtime.config["apps"]],
                         [provider["id"] for provider in runtime.config["providers"]])
        self._rendered: Memo[tuple[Any, ...], tuple[tuple[str, str], ...]] = Memo(8192)
        self._views: Memo[str, _View] = Memo(16384)
        self._authorities: Memo[str, Any] = Memo(4096)
        self._hosts: Memo[str, str] = Memo(4096)  # a host -> normalise_host() ("": none)
        self.refusals = Sparse(log)
        self.bearers = Bearers(runtime.providers, runtime.identities, clock)
        self.forgeries = Sparse(log)
        # The X-Auth-Request-* names a client may send because the snippets overwrite them;
        # any other member of the family reaching /auth is refused (see unset_identity_header).
        self.overwritten_family = frozenset(
            "HTTP_" + name.upper().replace("-", "_")
            for name in overwritten_headers(runtime.config)
            if name.startswith(IDENTITY_FAMILY)) | {PROXY_SENT}
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

    def decide(self, environ: dict[str, Any]) -> Answer:
        forged = self.unset_identity_header(environ)
        if forged:
            self.forgeries.warning("refused: the client sent %s, an X-Auth-Request-* header "
                                   "the nginx snippets do not overwrite (if an app reads it, "
                                   "add it to headers.strip)", forged)
            return "403 Forbidden", [NO_STORE]
        original = environ.get("HTTP_X_ORIGINAL_URL", "")
        method = environ.get("HTTP_X_ORIGINAL_METHOD", "GET").upper()
        target = split_target(original, self._authorities)
        if target is None:
            return "403 Forbidden", [NO_STORE]
        routed = environ.get("HTTP_X_SSOMW_HOST")
        if routed is not None and not self.same_host(routed, target.host):
            return self.confused("the request line names another host than Host", routed,
                                 target.host)
        policy = self.runtime.config.policy
        path = target.path or "/"
        app = policy.match_app(target.host, path)
        if app is None:
            return "403 Forbidden", [NO_STORE]
        environ["ssomw.app_id"] = app.id
        declared = environ.get("HTTP_X_SSOMW_APP")
        if declared and declared != app.id:
            return self.confused("nginx's location is for another app", declared, app.id)
        if app.sso and app.local_login_paths and is_local_login(app.local_login_paths, path):
            return self.local_login(app, environ, target)
        client_ip = self.proxies.client_ip(environ) if policy.uses_address(app) else ""
        match = policy.match(app, method, path, client_ip)
        if app.api is not None and app.sso:
            answered = self.api_request(app, app.api, match, environ, method, path)
            if answered is not None:
                return answered
        decision = match.resolve(None)
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
                decision = match.resolve(self.view_of(record).identity, self.clock())
        if decision.outcome == "login" and app.api is not None and app.api.is_api_path(path):
            environ["ssomw.decision"] = "login"
            return "401 Unauthorized", [NO_STORE, challenge(app.id)]
        return self.answer(decision, record, environ, original)

    def api_request(self, app: App, api: Api, match: Match, environ: dict[str, Any],
                    method: str, path: str) -> Answer | None:
        """A CORS preflight or a request with credentials meant for the app's API, answered;
        None for everything else (the session decides then)."""
        if (api.cors_preflight and method == "OPTIONS" and environ.get("HTTP_ORIGIN")
                and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
                and (not api.paths or api.is_api_path(path))):
            environ["ssomw.decision"] = "bypass"
            metrics.credential("preflight", "passed")
            return "200 OK", [NO_STORE]
        scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and "basic" in api.passthrough:
            return self.passthrough("basic", environ)
        if scheme != "bearer" or not credentials.strip():
            return None
        token = credentials.strip()
        if not api.bearer_providers:
            return self.passthrough("token", environ) if "token" in api.passthrough else None
        verdict = self.bearers.judge(app, api, token)
        kind = "bearer_introspection" if verdict.via == "introspection" else "bearer_jwt"
        if verdict.kind == "unavailable":
            metrics.credential(kind, "unavailable")
            return "503 Service Unavailable", [NO_STORE]
        if verdict.kind == "not_ours":
            if "token" in api.passthrough:
                return self.passthrough("token", environ)
            metrics.credential("bearer", "unknown_token")
            return self.token_refused(app, "invalid_token")
        if verdict.kind == "refused" or verdict.identity is None:
            metrics.credential(kind, verdict.reason or "refused")
            return self.token_refused(app, "insufficient_scope"
                                      if verdict.reason == "insufficient_scope"
                                      else "invalid_token")
        decision = match.resolve(verdict.identity, self.clock())
        environ["ssomw.decision"] = decision.outcome
        metrics.credential(kind, decision.outcome)
        if decision.outcome == "allow":
            # Never marked cacheable: nginx's decision cache is keyed by the session cookie.
            return "200 OK", [*self.rendered(verdict.attributes, app.id, verdict.identity.user),
                              *self.assertion(verdict.attributes, app.id, environ), NO_STORE]
        if decision.outcome in ("bypass", "passthrough"):
            return "200 OK", [NO_STORE]
        if decision.outcome == "forbidden":
            return "403 Forbidden", [NO_STORE]
        return self.token_refused(app, "invalid_token")  # e.g. a provider the app refuses

    def passthrough(self, kind: str, environ: dict[str, Any]) -> Answer:
        """The app's own credential (Basic, or a token no accepted provider knows): through,
        untouched, with no identity headers; the app judges it."""
        environ["ssomw.decision"] = "passthrough"
        metrics.credential(f"passthrough_{kind}", "passed")
        return "200 OK", [NO_STORE]

    @staticmethod
    def token_refused(app: App, error: str) -> Answer:
        """RFC 6750 §3.1: ``invalid_token`` is a 401, ``insufficient_scope`` a 403."""
        status = "403 Forbidden" if error == "insufficient_scope" else "401 Unauthorized"
        return status, [NO_STORE, challenge(app.id, error)]

    def unset_identity_header(self, environ: dict[str, Any]) -> str:
        """The name of a client's ``X-Auth-Request-*`` header that the snippets neither set
        nor clear, or "". nginx cannot clear a header family by pattern, and such a header
        would reach the app as sent (an app may well believe ``X-Auth-Request-Access-Token``),
        so the whole request is refused — on bypass paths too: no genuine client sends one.
        """
        if _FAMILY_KEY not in "\n".join(environ):  # one pass in C: the usual case
            return ""
        for key in environ:
            if key.startswith(_FAMILY_KEY) and key not in self.overwritten_family:
                return key[5:].replace("_", "-").title()
        return ""

    def answer(self, decision: Decision, record: SessionRecord | None,
               environ: dict[str, Any], original: str) -> Answer:
        outcome = environ["ssomw.decision"] = decision.outcome
        if outcome in ("bypass", "passthrough"):
            return "200 OK", [NO_STORE]
        if outcome == "forbidden":
            return "403 Forbidden", [NO_STORE]
        if outcome == "allow" and record is not None:
            answer = self.headers_for(record, decision.app_id)
            answer += self.assertion(attributes_of(record), decision.app_id, environ)
            if decision.cache_scope != "none" and self.cache_key_vouched(environ):
                # nginx's decision cache is on (its snippet sends the bucket header only then)
                # and keys entries by a second-long bucket, which alone bounds their use to
                # under 1 s (see nginxconf.py): the entry may live to the end of the next
                # second. Scope "none" (rules on the client address) is never cached: no
                # cache key carries the address.
                answer.append(("X-Accel-Expires", f"@{int(self.clock()) + 1}"))
            return "200 OK", [*answer, NO_STORE]
        return self.login_required(environ, original)

    def cache_key_vouched(self, environ: dict[str, Any]) -> bool:
        """Whether nginx's decision cache is on and keys this answer by the very cookie judged.

        The snippet sends the cookie text it puts in the cache key (``X-Ssomw-Cache-Cookie``);
        only when that equals what the gateway read is the answer marked cacheable, so no
        parsing difference can ever file one credential's answer under another's key.
        """
        if not environ.get("HTTP_X_SSOMW_CACHE_BUCKET") or environ.get("HTTP_AUTHORIZATION"):
            return False  # cache off, or a credential the cookie-keyed entry would not name
        keyed = environ.get("HTTP_X_SSOMW_CACHE_COOKIE", "").strip()
        return bool(keyed) and keyed == raw_cookie(environ.get("HTTP_COOKIE", ""),
                                                   self.cookie_name)

    def same_host(self, routed: str, host: str) -> bool:
        """Whether nginx's ``$host`` (the server it routes to) is the URL's host."""
        name = self._normalised(routed)
        return bool(name) and (name == host or name == self._normalised(host))

    def _normalised(self, host: str) -> str:
        name = self._hosts.get(host)
        if name is None:
            name = self._hosts.put(host, normalise_host(host) or "")
        return name

    def confused(self, why: str, told: str, judged: str) -> Answer:
        """Refuse a request the proxy and the gateway would read as two different ones."""
        self.refusals.warning("refused: %s (%.100r vs %.100r)", why, told, judged)
        return "403 Forbidden", [NO_STORE]

    def load_session(self, environ: dict[str, Any]) -> SessionRecord | None:
        """The request's live session; raises StoreUnavailable (the caller answers 503)."""
        record = self.runtime.sessions.load(
            read_cookie(environ.get("HTTP_COOKIE", ""), self.cookie_name))
        self.runtime.outage.ok()
        return record

    def view_of(self, record: SessionRecord) -> _View:
        """What the decision and the headers need from a session, worked out once per record:
        a store that keeps records (SQLite) hands out the same object until the session
        changes, so a changed session is always worked out afresh."""
        view = self._views.get(record.id)
        if view is None or view.record is not record:
            view = self._views.put(record.id, _View(record, identity_of(record), {}))
        return view

    def headers_for(self, record: SessionRecord, app_id: str) -> list[tuple[str, str]]:
        view = self.view_of(record)
        headers = view.headers.get(app_id)
        if headers is None:
            headers = view.headers[app_id] = tuple(self.rendered_headers(record, app_id))
        return list(headers)

    def assertion(self, attributes: dict[str, Any], app_id: str, environ: dict[str, Any]
                  ) -> list[tuple[str, str]]:
        """The signed identity assertion header (``headers.assertion``), or nothing."""
        if self.assertions is None or self.assertion_header is None:
            return []
        issuer = self.assertions.issuer(environ.get("HTTP_X_ORIGINAL_URL", ""))
        token = self.assertions.token(attributes, app_id, issuer)
        return [(self.assertion_header, token)] if token else []

    def rendered_headers(self, record: SessionRecord, app_id: str) -> list[tuple[str, str]]:
        """Identity headers for a session at an app."""
        return self.rendered(attributes_of(record), app_id, record.user)

    def rendered(self, attributes: dict[str, Any], app_id: str, user: str
                 ) -> list[tuple[str, str]]:
        """Identity headers for these attributes at an app, WSGI-encoded; memoized by their
        input values, since the same few identities ask again and again (bounded)."""
        attributes = dict(attributes)
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
            log.warning("dropped unsafe identity attributes %s for %r",
                        ",".join(dropped), user)
        rendered = tuple((name, to_wsgi(value)) for name, value in headers)
        if key is not None:
            self._rendered.put(key, rendered)
        return list(rendered)

    def local_login(self, app: Any, environ: dict[str, Any], target: Target
                    ) -> Answer:
        """The app's own login page is hidden while SSO is enforced: only a session made by
        the emergency login may reach it; everyone else is sent to SSO sign-in for the app's
        start page (not back to the hidden page, which would loop)."""
        try:
            record = self.load_session(environ)
        except StoreUnavailable as exc:
            self.runtime.outage.failed("auth", exc)
            return "503 Service Unavailable", [NO_STORE]
        if record is not None and record.data.get("auth_method") == "emergency":
            return "200 OK", [*self.headers_for(record, app.id),
                              *self.assertion(attributes_of(record), app.id, environ), NO_STORE]
        host = f"[{target.host}]" if ":" in target.host else target.host
        port = f":{target.port}" if target.port else ""
        start = f"{target.scheme}://{host}{port}{app.path_prefix}"
        return self.login_required(environ, start)

    def login_required(self, environ: dict[str, Any], target: str
                       ) -> Answer:
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
