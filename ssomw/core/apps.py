"""The ``apps:`` list compiled (contract §4.4): :class:`App`, its :class:`Rule` list and
:class:`Api`, built by :func:`build_apps`, which checks everything and records *every* problem
as ``(path, message)`` before :meth:`Policy.build <ssomw.core.policy.Policy.build>` fails.

Regexes, networks and host patterns are compiled here once, so deciding a request (policy.py)
only runs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ssomw.core.assurance import Assurance
from ssomw.core.errors import Errors, regexes, strings
from ssomw.core.networks import Address, Network, in_networks, parse_network
from ssomw.core.redirects import canonical_pattern
from ssomw.core.request_kind import normalise_path

CacheScope = Literal["app", "url", "none"]
POLICIES = ("bypass", "authenticated", "deny")
MIN_MAX_AGE = 5  # seconds: a rule's max_age below this could never be met on the way back
DENIED_ACTIONS = ("forbidden", "passthrough")


@dataclass(frozen=True)
class Rule:
    index: int
    paths: tuple[re.Pattern[str], ...]
    methods: frozenset[str] | None
    networks: tuple[Network, ...]
    policy: str
    groups: frozenset[str]
    assurance: Assurance | None = None  # step-up: ``acr``/``max_age`` for this rule's paths

    def failed_check(self, method: str, path: str, address: Address | None) -> str | None:
        """The first of the rule's tests that fails ("method", "path", "network"), or None
        when the rule matches. ``method`` upper-case, ``address`` parsed (None: garbage)."""
        if self.methods is not None and method not in self.methods:
            return "method"
        if self.paths and not _any_search(self.paths, path):
            return "path"
        if self.networks and (address is None or not in_networks(address, self.networks)):
            return "network"
        return None

    def matches(self, method: str, path: str, address: Address | None) -> bool:
        """The hot-path test."""
        return self.failed_check(method, path, address) is None

    def mismatch(self, method: str, path: str, address: Address | None) -> str | None:
        """Why this rule does not match, in words, or None when it does."""
        failed = self.failed_check(method, path, address)
        if failed == "method":
            return f"method {method} is not one of {', '.join(sorted(self.methods or ()))}"
        if failed == "path":
            return f"path {path} matches none of {', '.join(p.pattern for p in self.paths)}"
        if failed == "network":
            nets = ", ".join(str(n) for n in self.networks)
            return f"client address {address or 'unknown'} is not in {nets}"
        return None


@dataclass(frozen=True)
class Api:
    """An app's non-browser clients (contract §7, ``apps[].api``)."""

    paths: tuple[re.Pattern[str], ...]  # no credentials here: 401 + WWW-Authenticate, no redirect
    bearer_providers: tuple[str, ...]
    audiences: tuple[str, ...] | None    # None: each provider's client_id
    scopes: frozenset[str]
    introspection: bool
    passthrough: frozenset[str]          # "basic", "token": the app's own credentials
    cors_preflight: bool

    def is_api_path(self, path: str) -> bool:
        return _any_search(self.paths, path) if self.paths else False


@dataclass(frozen=True)
class App:
    id: str
    hosts: tuple[str, ...]
    path_prefix: str
    sso: bool
    providers: tuple[str, ...] | None
    allowed_groups: frozenset[str]
    denied_action: str
    rules: tuple[Rule, ...]
    local_login_paths: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict, compare=False)
    assurance: Assurance | None = None
    api: Api | None = None
    name: str | None = None
    index: int = 0
    cache_scope: CacheScope = "app"
    _plan: Any = field(default=None, compare=False, repr=False)


def is_local_login(paths: tuple[str, ...], path: str) -> bool:
    """An app's own login page: ``/login.jsp`` hides ``/login.jsp`` and anything below
    ``/login.jsp/``."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths)


def _any_search(patterns: tuple[re.Pattern[str], ...], path: str) -> bool:
    for pattern in patterns:
        if pattern.search(path):
            return True
    return False


# --- building: every check records (path, message) and carries on -------------------------


def build_apps(raw_apps: object, errors: Errors) -> list[App]:
    """The apps that are valid; every problem (also duplicate ids and host + prefix pairs
    served twice) is appended to ``errors``, so one run reports them all."""
    if not isinstance(raw_apps, list):
        errors.append(("apps", "must be a list of apps"))
        return []
    apps = [app for i, raw in enumerate(raw_apps) if (app := _build_app(i, raw, errors))]
    claimed: dict[tuple[str, str], App] = {}
    ids: set[str] = set()
    for app in apps:
        if app.id in ids:
            errors.append((f"apps[{app.index}].id", f"duplicate app id {app.id!r}"))
        ids.add(app.id)
        for k, host in enumerate(app.hosts):
            owner = claimed.setdefault((host, app.path_prefix), app)
            if owner is not app:
                message = (f"{host} with path_prefix {app.path_prefix} is already served "
                           f"by app {owner.id!r}")
                errors.append((f"apps[{app.index}].hosts[{k}]", message))
    return apps


def _build_app(i: int, raw: object, errors: Errors) -> App | None:
    base = f"apps[{i}]"
    if not isinstance(raw, Mapping):
        errors.append((base, "must be a mapping"))
        return None
    start = len(errors)
    app_id = raw.get("id")
    if not isinstance(app_id, str) or not app_id:
        errors.append((f"{base}.id", "is required and must be a non-empty string"))
    hosts = _hosts(raw.get("hosts"), f"{base}.hosts", errors)
    prefix = _prefix(raw.get("path_prefix", "/"), f"{base}.path_prefix", errors)
    sso = raw.get("sso", True)
    if not isinstance(sso, bool):
        errors.append((f"{base}.sso", "must be true or false"))
    providers = strings(raw.get("providers"), f"{base}.providers", errors,
                        empty="an empty list allows no provider; leave it out to allow all")
    groups = strings(raw.get("allowed_groups"), f"{base}.allowed_groups", errors) or ()
    denied_action = raw.get("denied_action", "forbidden")
    if denied_action not in DENIED_ACTIONS:
        errors.append((f"{base}.denied_action", "must be forbidden or passthrough"))
    rules_raw = raw.get("rules") or []
    if not isinstance(rules_raw, list):
        errors.append((f"{base}.rules", "must be a list of rules"))
        rules_raw = []
    rules = tuple(rule for j, item in enumerate(rules_raw)
                  if (rule := _build_rule(j, item, f"{base}.rules[{j}]", errors)))
    login_paths = strings(raw.get("local_login_paths"), f"{base}.local_login_paths", errors) or ()
    for k, login_path in enumerate(login_paths):
        if not login_path.startswith("/"):
            errors.append((f"{base}.local_login_paths[{k}]", "must be a path starting with /"))
    headers = raw.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        errors.append((f"{base}.headers", "must map header names to attribute names"))
    name = raw.get("name")
    auth_params = raw.get("auth_params") or {}
    if not isinstance(auth_params, Mapping):
        errors.append((f"{base}.auth_params", "must map parameter names to strings"))
        auth_params = {}
    max_age = auth_params.get("max_age")
    if max_age is not None and not str(max_age).strip().isdigit():
        errors.append((f"{base}.auth_params.max_age", "must be a whole number of seconds"))
    api = _build_api(raw.get("api"), f"{base}.api", errors)
    app_assurance = Assurance.from_auth_params(auth_params) if not errors[start:] else None
    for rule in rules:
        needs = rule.assurance
        if (needs is not None and needs.acr and app_assurance is not None
                and app_assurance.acr and needs.acr.isdisjoint(app_assurance.acr)):
            errors.append((f"{base}.rules[{rule.index}].acr",
                           "shares no value with the app's auth_params.acr_values "
                           f"({', '.join(sorted(app_assurance.acr))}): no sign-in could "
                           "meet both"))
    if len(errors) > start:
        return None
    if any(rule.networks for rule in rules):
        scope: CacheScope = "none"
    elif login_paths or any(rule.paths or rule.methods is not None for rule in rules):
        scope = "url"  # local login pages are decided per path too
    else:
        scope = "app"
    return App(
        id=app_id, hosts=hosts, path_prefix=prefix, sso=sso, providers=providers,
        allowed_groups=frozenset(groups), denied_action=denied_action, rules=rules,
        local_login_paths=login_paths, headers=MappingProxyType(dict(headers)),
        assurance=app_assurance, api=api,
        name=name if isinstance(name, str) else None, index=i,
        cache_scope="app" if not sso else scope)


def _build_api(raw: object, base: str, errors: Errors) -> Api | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        errors.append((base, "must be a mapping"))
        return None
    paths = regexes(raw.get("paths"), f"{base}.paths", errors)
    bearer = raw.get("bearer") or {}
    if not isinstance(bearer, Mapping):
        errors.append((f"{base}.bearer", "must be a mapping"))
        bearer = {}
    providers = strings(bearer.get("providers"), f"{base}.bearer.providers", errors,
                        empty="leave bearer out to accept no tokens") or ()
    audiences = strings(bearer.get("audiences"), f"{base}.bearer.audiences", errors,
                        empty="leave it out to accept the provider's client_id")
    scopes = strings(bearer.get("scopes"), f"{base}.bearer.scopes", errors) or ()
    passthrough = strings(raw.get("passthrough"), f"{base}.passthrough", errors) or ()
    for k, kind in enumerate(passthrough):
        if kind not in ("basic", "token"):
            errors.append((f"{base}.passthrough[{k}]", "must be basic or token"))
    introspection = bearer.get("introspection", False)
    if introspection and not providers:
        errors.append((f"{base}.bearer.introspection", "needs bearer.providers"))
    return Api(paths=paths, bearer_providers=tuple(providers),
               audiences=tuple(audiences) if audiences else None, scopes=frozenset(scopes),
               introspection=bool(introspection), passthrough=frozenset(passthrough),
               cors_preflight=bool(raw.get("cors_preflight", False)))


def _build_rule(j: int, raw: object, base: str, errors: Errors) -> Rule | None:
    if not isinstance(raw, Mapping):
        errors.append((base, "must be a mapping"))
        return None
    start = len(errors)
    policy = raw.get("policy")
    if policy not in POLICIES:
        errors.append((f"{base}.policy", "must be one of bypass, authenticated, deny"))
    every = "leave it out to match every {}"
    paths: list[re.Pattern[str]] = []
    listed = strings(raw.get("paths"), f"{base}.paths", errors, empty=every.format("path"))
    for k, text in enumerate(listed or ()):
        try:
            paths.append(re.compile(text))
        except re.error as exc:
            errors.append((f"{base}.paths[{k}]", f"invalid regular expression: {exc}"))
    methods = strings(raw.get("methods"), f"{base}.methods", errors,
                      empty=every.format("method"))
    for k, method in enumerate(methods or ()):
        if not re.fullmatch(r"[A-Za-z]+", method):
            errors.append((f"{base}.methods[{k}]", f"{method!r} is not an HTTP method"))
    networks: list[Network] = []
    listed = strings(raw.get("networks"), f"{base}.networks", errors,
                     empty=every.format("client address"))
    for k, text in enumerate(listed or ()):
        try:
            networks.append(parse_network(text))
        except ValueError as exc:
            errors.append((f"{base}.networks[{k}]", str(exc)))
    groups = strings(raw.get("groups"), f"{base}.groups", errors) or ()
    if groups and policy != "authenticated":
        errors.append((f"{base}.groups", "only applies to policy authenticated"))
    assurance = _rule_assurance(raw, base, policy, errors)
    if len(errors) > start:
        return None
    return Rule(index=j, paths=tuple(paths),
                methods=None if methods is None else frozenset(m.upper() for m in methods),
                networks=tuple(networks), policy=policy, groups=frozenset(groups),
                assurance=assurance)


def _rule_assurance(raw: Mapping[str, Any], base: str, policy: object,
                    errors: Errors) -> Assurance | None:
    """A rule's step-up requirement: ``max_age`` (seconds, as the config loader turned the
    duration) and ``acr`` (any one of these values)."""
    max_age = raw.get("max_age")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, (int, float))
                                or max_age < MIN_MAX_AGE):
        errors.append((f"{base}.max_age", f"must be a duration of at least {MIN_MAX_AGE}s: "
                       "the provider's auth_time counts whole seconds and the way back from "
                       "its sign-in takes a moment"))
        max_age = None
    acr = strings(raw.get("acr"), f"{base}.acr", errors,
                  empty="leave it out to accept any acr")
    if (max_age is not None or acr) and policy != "authenticated":
        errors.append((f"{base}.{'acr' if acr else 'max_age'}",
                       "only applies to policy authenticated"))
    if max_age is None and not acr:
        return None
    return Assurance(frozenset(acr) if acr else None,
                     float(max_age) if max_age is not None else None)


def _hosts(value: object, path: str, errors: Errors) -> tuple[str, ...]:
    """Hosts as canonical patterns (``jira.example.com``, ``*.xn--bcher-kva.example``)."""
    if not isinstance(value, list) or not value:
        errors.append((path, "must be a non-empty list of host names"))
        return ()
    hosts: list[str] = []
    for k, item in enumerate(value):
        try:
            hosts.append(canonical_pattern(item))
        except ValueError as exc:
            errors.append((f"{path}[{k}]", str(exc)))
    return tuple(hosts)


def _prefix(value: object, path: str, errors: Errors) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        errors.append((path, "must be a path starting with /"))
        return "/"
    text = value.rstrip("/") or "/"
    if normalise_path(text) != text:
        errors.append((path, "must be a plain path: no query, %-escapes, ';', '//' or dots"))
    return text
