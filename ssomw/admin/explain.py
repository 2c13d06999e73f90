"""``GET /explain``: why a user would be allowed or denied at a URL, step by step.

The same compiled rules the auth endpoint uses (:meth:`Policy.explain`,
:meth:`Routing.explain`), fed with what the gateway knows about the user: the groups as last
resolved (with their provenance), and the provider of the user's newest live session — else
the one routing would send them to. Nothing here changes state.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from ssomw.core.apps import is_local_login
from ssomw.core.assurance import EMERGENCY_PROVIDER, Identity
from ssomw.core.target import split_url
from ssomw.gateway.runtime import Runtime
from ssomw.identity.users import load_user, local_groups

FINAL = {"allow": "allow", "forbidden": "deny", "login": "login",
         "passthrough": "passthrough", "bypass": "bypass"}


class ExplainError(ValueError):
    pass


def explain(runtime: Runtime, url: str, user: str | None, *, method: str = "GET",
            client_ip: str = "127.0.0.1", provider: str | None = None,
            email: str | None = None) -> dict[str, Any]:
    parts = split_url(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.host:
        raise ExplainError("url must be an absolute http(s) URL")
    host = parts.host
    config = runtime.config
    path = parts.path or "/"
    out: dict[str, Any] = {"url": url, "method": method.upper(), "client_ip": client_ip,
                           "app": None, "user": None, "rules": [], "decision": None,
                           "routing": None}
    sessions = runtime.store.sessions_by_user(user) if user else []
    newest = max(sessions, key=lambda r: r.created) if sessions else None
    if user:
        record = load_user(runtime.store, user)
        email = email or (newest.data.get("email") if newest else None)
        out["user"] = {
            "name": user, "known": record is not None, "live_sessions": len(sessions),
            "groups": [{"name": g.name, "source": g.source, "origin": g.origin,
                        "via": list(g.via)} for g in sorted(record.grants,
                                                              key=lambda g: g.name)]
            if record else [],
            "local_groups": local_groups(runtime.store, user),
            "resolved_at": record.synced_at if record else None,
        }
    app = config.policy.match_app(host, path)
    if app is None:
        out.update(final="deny", reason="no app serves this host and path: the auth "
                   "endpoint answers 403")
        return out
    out["app"] = {"id": app.id, "name": app.name, "sso": app.sso,
                  "providers": list(app.providers) if app.providers is not None else None,
                  "allowed_groups": sorted(app.allowed_groups),
                  "denied_action": app.denied_action,
                  "requires": None if app.assurance is None else {
                      "acr": sorted(app.assurance.acr) if app.assurance.acr else None,
                      "max_age": app.assurance.max_age},
                  # Broker clients (contract §12) whose sign-ins this app's policy decides.
                  "broker_clients": [c["client_id"] for c in config["broker"]["clients"]
                                     if c["app"] == app.id]}
    allowed = list(app.providers) if app.providers is not None else list(config.providers)
    routing = config.routing.explain(host=host, app_id=app.id, client_ip=client_ip,
                                     email=email, allowed=allowed)
    out["routing"] = {**{k: v for k, v in asdict(routing.route).items()},
                      "checks": [asdict(c) for c in routing.checks]}
    identity = None
    if user:
        chosen, why = provider, "given"
        if chosen is None and newest is not None:
            chosen, why = newest.provider, "newest live session"
        if chosen is None:
            chosen, why = routing.route.provider, "routing"
        if chosen is None and routing.route.choices:  # routing would ask the user
            chosen, why = routing.route.choices[0], "assumed: routing would ask the user"
        out["user"].update(provider=chosen, provider_from=why)
        if chosen is not None:
            groups = frozenset(g["name"] for g in out["user"]["groups"])
            level = newest.data if newest is not None and newest.provider == chosen else {}
            acr, auth_time = level.get("acr"), level.get("auth_time")
            identity = Identity(user=user, provider=chosen, groups=groups,
                                acr=acr if isinstance(acr, str) else None,
                                auth_time=auth_time if isinstance(auth_time, (int, float))
                                else None)
    if app.sso and app.local_login_paths and is_local_login(app.local_login_paths, path):
        emergency = identity is not None and identity.provider == EMERGENCY_PROVIDER
        out.update(final="allow" if emergency else "login",
                   reason="the app's own login page: reachable only after an emergency login")
        return out
    explanation = config.policy.explain(app, method, path, client_ip, identity, time.time())
    decision = explanation.decision
    out["path"] = explanation.path
    out["rules"] = [asdict(c) for c in explanation.checks]
    out["decision"] = {"outcome": decision.outcome, "rule": decision.rule_index,
                       "reason": decision.reason,
                       # The sign-in requirement here: the app's and the rule's (step-up).
                       "requires": decision.requires.as_dict() if decision.requires else None}
    out.update(final=FINAL[decision.outcome], reason=decision.reason)
    return out
