"""Apps and access rules (contract §4.4): built once, numbered, first match wins, explainable.

:meth:`Policy.build` turns the validated ``apps:`` list into frozen :class:`App` objects, compiling
every regex and network once and collecting *every* problem before failing. :meth:`Policy.decide`
runs on every ``/sso/auth`` request, so it allocates almost nothing: each possible
:class:`Decision` is made at build time and only picked at request time.

Decisions worth knowing:

* Path confusion. nginx forwards the raw URI; the app may decode it, drop ``;`` parameters
  (servlet containers) or resolve dot segments, so ``/public/..;/admin`` can be ``/admin`` to
  the app. A path not already in plain form is therefore decided under each reading
  (``request_kind.path_forms``) and the strictest decision wins: a ``bypass`` rule cannot be
  reached through a path that some upstream reads as something else. Apps are chosen on the
  nginx reading (``request_kind.normalise_path``), as that is how nginx picks the upstream.
* An identity from a provider the app does not accept gets ``login``, not 403: the user may
  hold accounts at both, and a new sign-in at an allowed provider is the way in.
* Group checks: the matching rule's ``groups`` and the app's ``allowed_groups`` must *both*
  pass (either may be empty); the user needs one group from each non-empty list.
* ``cache_scope`` is ``"app"`` when no rule looks at path or method, ``"url"`` when one does,
  and ``"none"`` when a rule looks at the client address: the decision then depends on
  something neither cache key contains, so it must not be cached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, Protocol

from ssomw.core.errors import Errors, RulesError, regexes, strings
from ssomw.core.memo import Memo
from ssomw.core.networks import Address, Network, in_networks, parse_address, parse_network
from ssomw.core.redirects import canonical_pattern, normalise_host
from ssomw.core.request_kind import normalise_path, path_forms, plain_path

Outcome = Literal["allow", "bypass", "login", "forbidden", "passthrough"]
CacheScope = Literal["app", "url", "none"]
# Sessions from the emergency login: the break-glass way in when providers fail, valid for
# every app whatever its ``providers`` (groups and rules still apply).
EMERGENCY_PROVIDER = "emergency"
POLICIES = ("bypass", "authenticated", "deny")
MIN_MAX_AGE = 5  # seconds: a rule's max_age below this could never be met on the way back
DENIED_ACTIONS = ("forbidden", "passthrough")
# How strict an outcome is, to pick between readings of an ambiguous path.
_STRICTNESS = {"bypass": 0, "allow": 1, "passthrough": 2, "login": 3, "forbidden": 4}


class PolicyError(RulesError):
    """Every problem found in the ``apps`` list, as ``(path, message)`` pairs."""


@dataclass(frozen=True)
class Identity:
    user: str
    provider: str
    groups: frozenset[str]
    acr: str | None = None           # from the ID token: how the user signed in
    auth_time: float | None = None   # from the ID token: when the user last signed in


@dataclass(frozen=True)
class Assurance:
    """How strong and how recent a sign-in must be: ``acr`` (one of these values) and
    ``max_age`` (seconds since ``auth_time``). Checked on every decision, since one session
    serves every app: a session made for an app without requirements must not pass at an app
    with them."""

    acr: frozenset[str] | None = None
    max_age: float | None = None

    def __post_init__(self) -> None:
        if self.acr is None and self.max_age is None:
            raise ValueError("an Assurance needs acr or max_age")

    def shortfall(self, identity: Identity, now: float | None) -> str | None:
        """Why ``identity`` falls short, or None. Without ``now`` an age cannot be checked and
        counts as too old (fail closed). Emergency sessions pass: they are the way in when the
        provider that could raise the level is down."""
        if identity.provider == EMERGENCY_PROVIDER:
            return None
        if self.acr is not None and identity.acr not in self.acr:
            return f"acr {identity.acr or 'none'} is not one of {', '.join(sorted(self.acr))}"
        if self.max_age is not None and (
                now is None or identity.auth_time is None
                or now - identity.auth_time > self.max_age):
            return f"the sign-in is older than max_age {self.max_age:g}s"
        return None

    def asks_again(self, identity: Identity, now: float) -> bool:
        """Whether a sign-in for this requirement must make the provider ask for credentials
        again (``prompt=login``): the session's acr is too weak, or its known sign-in too old.
        A session whose provider sent no ``auth_time`` (providers send it unasked only
        sometimes) is not known to be old: ``max_age`` alone lets the provider judge, and its
        answer must then carry an ``auth_time`` that is recent enough."""
        if self.shortfall(identity, now) is None:
            return False
        if self.acr is not None and identity.acr not in self.acr:
            return True
        return identity.auth_time is not None

    @classmethod
    def from_auth_params(cls, params: Mapping[str, Any]) -> Assurance | None:
        """An app's ``auth_params`` ``acr_values``/``max_age`` as a requirement (or None)."""
        acr = str(params.get("acr_values") or "").split()
        max_age = str(params.get("max_age") or "").strip()
        if not acr and not max_age.isdigit():
            return None
        return cls(frozenset(acr) or None, float(max_age) if max_age.isdigit() else None)

    def combine(self, other: Assurance | None) -> Assurance:
        """Both requirements at once: an ``acr`` both accept (the values they share; none
        shared means no sign-in can pass) and the shorter ``max_age``."""
        if other is None:
            return self
        if self.acr is None or other.acr is None:
            acr = self.acr if other.acr is None else other.acr
        else:
            acr = self.acr & other.acr
        ages = [age for age in (self.max_age, other.max_age) if age is not None]
        return Assurance(acr, min(ages) if ages else None)

    def auth_params(self) -> dict[str, str]:
        """The authorization parameters that ask the provider for this (``acr_values``,
        ``max_age``); ``prompt=login`` is added by the caller when a session falls short."""
        params = {}
        if self.acr:
            params["acr_values"] = " ".join(sorted(self.acr))
        if self.max_age is not None:
            params["max_age"] = str(int(self.max_age))
        return params

    def describe(self) -> str:
        """In words, for explain and logs: ``acr one of urn:mfa; max_age 300s``."""
        parts = []
        if self.acr is not None:
            parts.append(f"acr one of {', '.join(sorted(self.acr)) or '(none: unsatisfiable)'}")
        if self.max_age is not None:
            parts.append(f"max_age {self.max_age:g}s")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"acr": sorted(self.acr) if self.acr is not None else None,
                "max_age": self.max_age}

    @classmethod
    def from_dict(cls, data: object) -> Assurance | None:
        """The inverse of :meth:`as_dict` (None for anything else: no requirement recorded)."""
        if not isinstance(data, Mapping):
            return None
        acr, max_age = data.get("acr"), data.get("max_age")
        acr_set = frozenset(str(a) for a in acr) if isinstance(acr, list) else None
        age = float(max_age) if isinstance(max_age, (int, float)) else None
        return cls(acr_set, age) if acr_set is not None or age is not None else None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    app_id: str
    rule_index: int | None
    reason: str
    cache_scope: CacheScope
    # The sign-in requirement (the app's and the matched rule's together) a session met or
    # fell short of; None where none applies.
    requires: Assurance | None = None


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


@dataclass(frozen=True)
class RuleCheck:
    index: int
    matched: bool
    reason: str


@dataclass(frozen=True)
class Explanation:
    app_id: str
    path: str  # the reading of the path the decision came from
    checks: tuple[RuleCheck, ...]
    decision: Decision


class Policy:
    """The compiled apps; use :meth:`build`."""

    def __init__(self, apps: tuple[App, ...]) -> None:
        self.apps = apps
        self._exact: dict[str, list[App]] = {}
        self._wildcard: dict[str, list[App]] = {}
        self._hosts: Memo[str, str] = Memo(4096)  # request host -> normalise_host() ("": none)
        for app in apps:
            for host in app.hosts:
                if host.startswith("*."):
                    self._wildcard.setdefault(host[2:], []).append(app)
                else:
                    self._exact.setdefault(host, []).append(app)

    @classmethod
    def build(cls, apps: list[dict[str, Any]]) -> Policy:
        """Compile ``apps``; raises :class:`PolicyError` listing every problem found."""
        errors: list[tuple[str, str]] = []
        compiled = _build_apps(apps, errors)
        if errors:
            raise PolicyError(errors)
        for app in compiled:
            object.__setattr__(app, "_plan", _Plan(app))
        return cls(tuple(compiled))

    def match_app(self, host: str, path: str) -> App | None:
        """The app serving ``host`` + ``path``, or None (the caller refuses unknown hosts).

        Among apps whose hosts match, the longest ``path_prefix`` wins (on a segment
        boundary); on a tie an exact host beats a wildcard, a longer wildcard beats a
        shorter one, and then the app listed first wins.
        """
        name = self._hosts.get(host)
        if name is None:  # few distinct hosts, each normalised once
            name = self._hosts.put(host, normalise_host(host) or "")
        if not name:
            return None
        path = normalise_path(path)
        best: App | None = None
        best_key: tuple[int, int, int] = (-1, -1, 0)
        for app in self._exact.get(name, ()):
            best, best_key = _better(app, path, len(name) + 1, best, best_key)
        dot = name.find(".")
        while dot >= 0:
            suffix = name[dot + 1:]
            for app in self._wildcard.get(suffix, ()):
                best, best_key = _better(app, path, len(suffix), best, best_key)
            dot = name.find(".", dot + 1)
        return best

    def app_by_id(self, app_id: str) -> App | None:
        return next((app for app in self.apps if app.id == app_id), None)

    @staticmethod
    def uses_address(app: App) -> bool:
        """Whether a rule of ``app`` looks at the client address (else decide ignores it)."""
        return bool(app._plan.needs_address)

    def decide(self, app: App, method: str, path: str, client_ip: str,
               identity: Identity | None, now: float | None = None) -> Decision:
        """The decision for one request to ``app``: the first matching rule wins; for an
        ambiguous path, the strictest decision over its readings (``path_forms``). ``now``
        is needed to judge a ``max_age`` requirement (without it, the sign-in counts as too
        old)."""
        return self.match(app, method, path, client_ip).resolve(identity, now)

    def match(self, app: App, method: str, path: str, client_ip: str) -> Match:
        """The rule part of :meth:`decide`, done once: the auth endpoint resolves the match
        for "no session" first and, only if that needs sign-in, for the session's identity."""
        plan: _Plan = app._plan
        if plan.sso_off is not None:
            return plan.sso_off
        method = method if method.isupper() else method.upper()
        address = parse_address(client_ip) if plan.needs_address else None
        if plain_path(path):
            return plan.match(method, path, address)
        return _Strictest(tuple(plan.match(method, form, address) for form in path_forms(path)))

    def explain(self, app: App, method: str, path: str, client_ip: str,
                identity: Identity | None, now: float | None = None) -> Explanation:
        """The rules checked, in order, with why each did or did not match, and the decision."""
        decision = self.decide(app, method, path, client_ip, identity, now)
        method = method.upper()
        address = parse_address(client_ip)
        forms = path_forms(path)
        form = next((f for f in forms
                     if app._plan.match(method, f, address).resolve(identity, now) == decision),
                    forms[0])
        checks: list[RuleCheck] = []
        for rule in app.rules if app.sso else ():
            why_not = rule.mismatch(method, form, address)
            if why_not is None:
                step_up = (f"; step-up: {rule.assurance.describe()}"
                           if rule.assurance is not None else "")
                checks.append(RuleCheck(rule.index, True,
                                        f"matched: policy {rule.policy}{step_up}"))
                break
            checks.append(RuleCheck(rule.index, False, why_not))
        return Explanation(app.id, form, tuple(checks), decision)


def is_local_login(paths: tuple[str, ...], path: str) -> bool:
    """An app's own login page: ``/login.jsp`` hides ``/login.jsp`` and anything below
    ``/login.jsp/``."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths)


def _any_search(patterns: tuple[re.Pattern[str], ...], path: str) -> bool:
    for pattern in patterns:
        if pattern.search(path):
            return True
    return False


def _better(app: App, path: str, specificity: int, best: App | None,
            best_key: tuple[int, int, int]) -> tuple[App | None, tuple[int, int, int]]:
    prefix = app.path_prefix
    if prefix != "/" and path != prefix and not path.startswith(prefix + "/"):
        return best, best_key
    key = (len(prefix), specificity, -app.index)
    return (app, key) if key > best_key else (best, best_key)


class _Outcomes:
    """Every decision a rule (or the default) can reach, made once at build time."""

    def __init__(self, app: App, rule: Rule | None) -> None:
        index = None if rule is None else rule.index
        where = (f"rule {index} of app {app.id!r} (policy {rule.policy})" if rule is not None
                 else f"no rule of app {app.id!r} matched (default policy authenticated)")
        self.providers = None if app.providers is None else frozenset(app.providers)
        self.rule_groups = frozenset() if rule is None else rule.groups
        self.app_groups = app.allowed_groups

        def made(outcome: Outcome, text: str) -> Decision:
            return Decision(outcome, app.id, index, f"{where}: {text}", app.cache_scope)

        denied: Outcome = "passthrough" if app.denied_action == "passthrough" else "forbidden"
        self.login = made("login", "sign-in required; the request has no session")
        self.wrong_provider = made(
            "login", f"the session's provider is not one of {', '.join(app.providers or ())}; "
            "sign in again at one of them")
        self.rule_denied = made(denied, "the user is in none of the rule's groups: "
                                + ", ".join(sorted(self.rule_groups)))
        self.app_denied = made(denied, "the user is in none of the app's allowed_groups: "
                               + ", ".join(sorted(self.app_groups)))
        rule_needs = None if rule is None else rule.assurance
        self.assurance = (rule_needs.combine(app.assurance) if rule_needs is not None
                          else app.assurance)
        whose = ("the app's" if rule_needs is None else f"rule {index}'s" if app.assurance is None
                 else f"rule {index}'s and the app's")
        needs = f" ({self.assurance.describe()})" if self.assurance is not None else ""
        self.allow = replace(made("allow", "signed-in user allowed"), requires=self.assurance)
        self.step_up = replace(made("login", f"the session's sign-in does not meet {whose} "
                                    f"requirement{needs}; sign in again"),
                               requires=self.assurance)
        self.fixed: Decision | None = None
        if rule is not None and rule.policy == "bypass":
            self.fixed = made("bypass", "no sign-in, no identity headers")
        elif rule is not None and rule.policy == "deny":
            self.fixed = made("forbidden", "access denied for everyone")
        if self.fixed is not None:
            self.assurance = None  # nobody signs in here

    def resolve(self, identity: Identity | None, now: float | None = None) -> Decision:
        if self.fixed is not None:
            return self.fixed
        if identity is None:
            return self.login
        if (self.providers is not None and identity.provider not in self.providers
                and identity.provider != EMERGENCY_PROVIDER):
            return self.wrong_provider
        if self.rule_groups and self.rule_groups.isdisjoint(identity.groups):
            return self.rule_denied
        if self.app_groups and self.app_groups.isdisjoint(identity.groups):
            return self.app_denied
        if self.assurance is not None:
            why = self.assurance.shortfall(identity, now)
            if why is not None:
                return replace(self.step_up, reason=f"{self.step_up.reason}: {why}")
        return self.allow


class Match(Protocol):
    """What a request matched; the decision then depends only on who is asking.
    ``assurance`` is the sign-in requirement there (the app's and the rule's), or None."""

    assurance: Assurance | None

    def resolve(self, identity: Identity | None, now: float | None = None) -> Decision: ...


class _Fixed:
    assurance: Assurance | None = None

    def __init__(self, decision: Decision) -> None:
        self.decision = decision

    def resolve(self, identity: Identity | None, now: float | None = None) -> Decision:
        return self.decision


class _Strictest:
    """An ambiguous path: every reading's outcome, and the strictest decision wins."""

    def __init__(self, readings: tuple[Match, ...]) -> None:
        self.readings = readings
        self.assurance: Assurance | None = None
        for reading in readings:  # every reading's requirement at once: the strictest
            if reading.assurance is not None:
                self.assurance = reading.assurance.combine(self.assurance)

    def resolve(self, identity: Identity | None, now: float | None = None) -> Decision:
        decisions = [reading.resolve(identity, now) for reading in self.readings]
        return max(decisions, key=lambda decision: _STRICTNESS[decision.outcome])


class _Plan:
    def __init__(self, app: App) -> None:
        self.sso_off = None if app.sso else _Fixed(Decision(
            "bypass", app.id, None, f"app {app.id!r} has sso: false; passed through untouched",
            app.cache_scope))
        self.needs_address = any(rule.networks for rule in app.rules)
        self.rules = tuple((rule, _Outcomes(app, rule)) for rule in app.rules)
        self.default = _Outcomes(app, None)

    def match(self, method: str, path: str, address: Address | None) -> Match:
        if self.sso_off is not None:
            return self.sso_off
        for rule, outcomes in self.rules:
            if rule.matches(method, path, address):
                return outcomes
        return self.default


# --- building: every check records (path, message) and carries on -------------------------



def _build_apps(raw_apps: object, errors: Errors) -> list[App]:
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
