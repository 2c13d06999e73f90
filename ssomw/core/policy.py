"""Deciding a request by the apps and their rules (contract §4.4): first match wins, explainable.

:meth:`Policy.build` compiles the validated ``apps:`` list (``apps.build_apps``, which collects
*every* problem before failing) and plans each app's decisions. :meth:`Policy.decide` runs on
every ``/sso/auth`` request, so it allocates almost nothing: each possible :class:`Decision` is
made at build time and only picked at request time.

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

from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from ssomw.core.apps import App, CacheScope, Rule, build_apps
from ssomw.core.assurance import EMERGENCY_PROVIDER, Assurance, Identity
from ssomw.core.errors import RulesError
from ssomw.core.memo import Memo
from ssomw.core.networks import Address, parse_address
from ssomw.core.redirects import normalise_host
from ssomw.core.request_kind import normalise_path, path_forms, plain_path

Outcome = Literal["allow", "bypass", "login", "forbidden", "passthrough"]
# How strict an outcome is, to pick between readings of an ambiguous path.
_STRICTNESS = {"bypass": 0, "allow": 1, "passthrough": 2, "login": 3, "forbidden": 4}


class PolicyError(RulesError):
    """Every problem found in the ``apps`` list, as ``(path, message)`` pairs."""


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
        compiled = build_apps(apps, errors)
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
