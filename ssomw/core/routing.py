"""Which provider a sign-in goes to (contract §4.5): built once, numbered, first match wins.

:meth:`Routing.build` compiles the ``routing:`` section (host patterns, e-mail domain patterns,
app ids, networks), collecting *every* problem before failing. :meth:`Routing.route` runs once
per sign-in (``/sso/login``) and returns a :class:`Route`: a provider, or the page to show when
the rules cannot decide yet (``"email"``: home-realm discovery asks for the address;
``"choose"``: the user picks among ``choices``).

Decisions worth knowing:

* Never outside ``allowed`` (the providers the target app accepts, in config order). A rule
  whose provider the app does not accept is skipped; a ``requested`` provider (the choice page
  or ``idp=``) is honoured only when allowed, and otherwise ignored rather than refused.
* Order is priority, whether or not the e-mail is known. Reaching an ``email_domain`` rule
  without a usable address asks for it (page ``"email"``) instead of skipping to later rules,
  so a ``login_hint`` can never change which rule wins: the answer without the address is
  either that question or what every address would have got. The question is not asked when
  every outcome still possible is the same provider (one allowed provider, say).
* E-mail domain: the part after the *last* ``@`` (a quoted local part may itself contain
  ``@``, so ``user@evil.org@example.com`` is at ``example.com``, which is where the mail and
  the sign-in go), lower-cased and IDNA-normalised exactly like request hosts
  (:func:`~ssomw.core.redirects.normalise_host`): ``BÜCHER.example`` is
  ``xn--bcher-kva.example``, a Cyrillic look-alike is a different name. An address with no
  ``@``, an empty side, whitespace or control characters, an address literal (``[…]``),
  a trailing dot or more than 254 characters is *unknown*: treated as no address at all.
* Patterns (``host``, ``email_domain``, ``allowed_email_domains``) mean what host patterns mean
  everywhere: ``*.example.com`` matches subdomains at any depth, never ``example.com`` itself
  and never ``example.com.evil.org``.
* A missing ``default`` behaves as ``"choose"``; a ``"choose"`` (or a default the app does not
  accept) with exactly one allowed provider goes straight to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ssomw.core.errors import Errors, RulesError
from ssomw.core.networks import Address, Network, in_networks, parse_address, parse_network
from ssomw.core.policy import RuleCheck
from ssomw.core.redirects import canonical_pattern, host_matches, normalise_host

CHOOSE = "choose"
MATCH_KEYS = ("host", "email_domain", "app", "network")
MAX_EMAIL_LENGTH = 254  # RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets

MatchKind = Literal["host", "email_domain", "app", "network"]
Page = Literal["email", "choose"]


class RoutingError(RulesError):
    """Every problem found in the ``routing`` section, as ``(path, message)`` pairs."""


@dataclass(frozen=True)
class Route:
    """Where a sign-in goes: ``provider`` set and ``page`` None, or ``provider`` None and a page.

    ``choices`` are the allowed providers, for either page (the e-mail page may offer them as
    an alternative); empty when a provider was picked. A ``"choose"`` with no choices means
    the app accepts no provider at all.
    """

    provider: str | None
    page: Page | None
    rule_index: int | None
    reason: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteExplanation:
    route: Route
    checks: tuple[RuleCheck, ...]


def email_domain(email: str | None) -> str | None:
    """The canonical domain of ``email`` (after the last ``@``), or None when it is unknown."""
    if not isinstance(email, str):
        return None
    text = email.strip()
    if len(text) > MAX_EMAIL_LENGTH or not text.isprintable() or " " in text:
        return None
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(ch in domain for ch in "[]:"):
        return None
    return normalise_host(domain)


@dataclass(frozen=True)
class _Request:
    host: str
    app_id: str | None
    address: Address | None
    domain: str | None


@dataclass(frozen=True)
class RoutingRule:
    """One compiled rule: ``values`` are canonical patterns, app ids or networks (as text)."""

    index: int
    kind: MatchKind
    values: tuple[str, ...]
    provider: str
    networks: tuple[Network, ...] = ()

    def check(self, request: _Request) -> bool | None:
        """Whether the rule matches; None when it needs an e-mail address and there is none."""
        if self.kind == "host":
            return host_matches(request.host, self.values)
        if self.kind == "email_domain":
            if request.domain is None:
                return None
            return host_matches(request.domain, self.values)
        if self.kind == "app":
            return request.app_id in self.values
        return request.address is not None and in_networks(request.address, self.networks)

    def describe(self, request: _Request, matched: bool | None) -> str:
        subject = {
            "host": f"host {request.host!r}",
            "email_domain": f"e-mail domain {request.domain!r}",
            "app": f"app {request.app_id!r}",
            "network": f"client address {request.address or 'unknown'}",
        }[self.kind]
        if matched is None:
            return "needs the e-mail address, which is unknown"
        verb = "matches" if matched else "matches none of"
        return f"{subject} {verb} {', '.join(self.values)}"


class Routing:
    """The compiled ``routing`` section; use :meth:`build`."""

    def __init__(self, rules: tuple[RoutingRule, ...], default: str,
                 allowed_email_domains: tuple[str, ...]) -> None:
        self.rules = rules
        self.default = default
        self.allowed_email_domains = allowed_email_domains

    @classmethod
    def build(cls, section: Mapping[str, Any] | None, provider_ids: Collection[str],
              app_ids: Collection[str] | None = None) -> Routing:
        """Compile ``section``; raises :class:`RoutingError` listing every problem found.

        ``app_ids``, when given, also checks that ``app`` rules name existing apps.
        """
        if section is None:
            section = {}
        if not isinstance(section, Mapping):
            raise RoutingError([("routing", "must be a mapping")])
        errors: Errors = []
        known = frozenset(provider_ids)
        apps = None if app_ids is None else frozenset(app_ids)
        raw_rules = section.get("rules") or []
        if not isinstance(raw_rules, list):
            errors.append(("routing.rules", "must be a list of rules"))
            raw_rules = []
        rules = tuple(rule for i, raw in enumerate(raw_rules)
                      if (rule := _build_rule(i, raw, known, apps, errors)))
        default = section.get("default")
        if default is None:
            default = CHOOSE
        elif not isinstance(default, str) or not default:
            errors.append(("routing.default", f"must be a provider id or {CHOOSE!r}"))
        elif default == CHOOSE and CHOOSE in known:
            errors.append(("routing.default", f"is ambiguous: a provider is called {CHOOSE!r}"))
        elif default != CHOOSE and default not in known:
            errors.append(("routing.default",
                           f"unknown provider {default!r}; use a provider id or {CHOOSE!r}"))
        domains: list[str] = []
        raw_domains = section.get("allowed_email_domains")
        if raw_domains not in (None, []):
            for path, item in _items(raw_domains, "routing.allowed_email_domains", errors):
                if (pattern := _domain_pattern(item, path, errors)) is not None:
                    domains.append(pattern)
        if errors:
            raise RoutingError(errors)
        return cls(rules, default, tuple(domains))

    def route(self, *, host: str, app_id: str | None, client_ip: str, email: str | None,
              allowed: Sequence[str], requested: str | None = None) -> Route:
        """The provider (or page) for one sign-in.

        ``host`` is the host being signed in to (normally the ``rd`` target's), ``client_ip``
        the client address after trusted-proxy handling, ``email`` from ``login_hint`` or the
        e-mail page (None or unusable: unknown). Order: ``requested`` if allowed; then the
        rules, first match wins (see the module docstring for e-mail rules); then ``default``.
        """
        return self._walk(host, app_id, client_ip, email, allowed, requested, None)

    def explain(self, *, host: str, app_id: str | None, client_ip: str, email: str | None,
                allowed: Sequence[str], requested: str | None = None) -> RouteExplanation:
        """The route and the rules checked on the way, in order, with why each (not) matched."""
        checks: list[RuleCheck] = []
        route = self._walk(host, app_id, client_ip, email, allowed, requested, checks)
        return RouteExplanation(route, tuple(checks))

    def email_allowed(self, email: str | None) -> bool:
        """True when ``allowed_email_domains`` is empty or the address's domain matches one.

        An unknown address (missing, no ``@``, invalid domain) is refused when a list exists.
        """
        if not self.allowed_email_domains:
            return True
        domain = email_domain(email)
        return domain is not None and host_matches(domain, self.allowed_email_domains)

    # --- deciding --------------------------------------------------------------------------

    def _walk(self, host: str, app_id: str | None, client_ip: str, email: str | None,
              allowed: Sequence[str], requested: str | None,
              checks: list[RuleCheck] | None) -> Route:
        choices = tuple(dict.fromkeys([allowed] if isinstance(allowed, str) else allowed))
        if requested is not None and requested in choices:
            return Route(requested, None, None, f"requested provider {requested!r}")
        request = _Request(host if isinstance(host, str) else "", app_id,
                           parse_address(client_ip) if isinstance(client_ip, str) else None,
                           email_domain(email))
        route = self._rules(request, choices, checks)
        if requested is not None:
            note = f"; requested provider {requested!r} ignored: the app does not accept it"
            route = replace(route, reason=route.reason + note)
        return route

    def _rules(self, request: _Request, choices: tuple[str, ...],
               checks: list[RuleCheck] | None) -> Route:
        for position, rule in enumerate(self.rules):
            if rule.provider not in choices:
                if checks is not None:
                    checks.append(RuleCheck(rule.index, False, f"skipped: provider "
                                            f"{rule.provider!r} is not allowed for this app"))
                continue
            matched = rule.check(request)
            if checks is not None:
                checks.append(RuleCheck(rule.index, matched is True,
                                        rule.describe(request, matched)))
            if matched is None:
                return self._ask_email(position, request, choices)
            if matched:
                return Route(rule.provider, None, rule.index,
                             f"rule {rule.index} matched: {rule.describe(request, True)}")
        return self._fallback(choices)

    def _ask_email(self, position: int, request: _Request, choices: tuple[str, ...]) -> Route:
        """Ask for the address, unless every outcome still possible is the same provider."""
        possible: set[str] = set()
        outcome: Route | None = None
        for rule in self.rules[position:]:
            if rule.provider not in choices:
                continue
            if rule.kind == "email_domain":
                possible.add(rule.provider)
            elif rule.check(request):
                outcome = Route(rule.provider, None, rule.index,
                                f"rule {rule.index} matched: {rule.describe(request, True)}")
                break
        if outcome is None:
            outcome = self._fallback(choices)
        if outcome.provider is not None and possible <= {outcome.provider}:
            return replace(outcome, reason=outcome.reason + " (the e-mail address is unknown "
                           "but every e-mail rule that could apply leads here too)")
        first = self.rules[position].index
        return Route(None, "email", None, f"rule {first} needs the e-mail address to decide",
                     choices)

    def _fallback(self, choices: tuple[str, ...]) -> Route:
        if self.default != CHOOSE and self.default in choices:
            return Route(self.default, None, None,
                         f"no rule matched: default provider {self.default!r}")
        why = ("default is choose" if self.default == CHOOSE
               else f"default provider {self.default!r} is not allowed for this app")
        if len(choices) == 1:
            return Route(choices[0], None, None,
                         f"no rule matched, {why}; the app allows only {choices[0]!r}")
        if not choices:
            return Route(None, "choose", None, "the app accepts no provider", ())
        return Route(None, "choose", None, f"no rule matched, {why}: the user picks", choices)


# --- building: every check records (path, message) and carries on -------------------------



def _build_rule(i: int, raw: object, known: frozenset[str], apps: frozenset[str] | None,
                errors: Errors) -> RoutingRule | None:
    base = f"routing.rules[{i}]"
    if not isinstance(raw, Mapping):
        errors.append((base, "must be a mapping with match and provider"))
        return None
    start = len(errors)
    provider = raw.get("provider")
    if not isinstance(provider, str) or not provider:
        errors.append((f"{base}.provider", "is required and must be a provider id"))
    elif provider not in known:
        errors.append((f"{base}.provider", f"unknown provider {provider!r}"))
    match = raw.get("match")
    if not isinstance(match, Mapping):
        errors.append((f"{base}.match", f"must be a mapping with one of {', '.join(MATCH_KEYS)}"))
        return None
    for key in match:
        if key not in MATCH_KEYS:
            errors.append((f"{base}.match.{key}",
                           f"unknown match key; expected one of {', '.join(MATCH_KEYS)}"))
    kinds = [key for key in MATCH_KEYS if key in match]
    if len(kinds) != 1:
        found = f"has {', '.join(kinds)}; write one rule per condition" if kinds else "is empty"
        errors.append((f"{base}.match", f"needs exactly one of {', '.join(MATCH_KEYS)}; {found}"))
        return None
    kind: MatchKind = kinds[0]  # type: ignore[assignment]
    values: list[str] = []
    networks: list[Network] = []
    for path, item in _items(match[kind], f"{base}.match.{kind}", errors):
        if kind == "host":
            try:
                values.append(canonical_pattern(item))
            except ValueError as exc:
                errors.append((path, str(exc)))
        elif kind == "email_domain":
            if (pattern := _domain_pattern(item, path, errors)) is not None:
                values.append(pattern)
        elif kind == "app":
            if apps is not None and item not in apps:
                errors.append((path, f"unknown app {item!r}"))
            values.append(item)
        else:
            try:
                networks.append(parse_network(item))
            except ValueError as exc:
                errors.append((path, str(exc)))
    if len(errors) > start:
        return None
    if kind == "network":
        values = [str(net) for net in networks]
    return RoutingRule(i, kind, tuple(values), provider, tuple(networks))


def _items(value: object, path: str, errors: Errors) -> list[tuple[str, str]]:
    """A string or a non-empty list of non-empty strings, each with its error path."""
    if isinstance(value, str):
        if value.strip():
            return [(path, value)]
        errors.append((path, "must not be empty"))
        return []
    if not isinstance(value, list):
        errors.append((path, "must be a string or a list of strings"))
        return []
    if not value:
        errors.append((path, "must not be empty; leave the rule out instead"))
        return []
    items: list[tuple[str, str]] = []
    for k, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            items.append((f"{path}[{k}]", item))
        else:
            errors.append((f"{path}[{k}]", "must be a non-empty string"))
    return items


def _domain_pattern(item: str, path: str, errors: Errors) -> str | None:
    """An e-mail domain pattern: a host pattern that is a name, not an address or port."""
    if item.strip().startswith("@"):
        errors.append((path, f"{item!r}: write the domain without '@'"))
        return None
    try:
        pattern = canonical_pattern(item)
    except ValueError as exc:
        errors.append((path, str(exc)))
        return None
    if pattern.startswith("["):
        errors.append((path, f"{item!r} is an address, not an e-mail domain"))
        return None
    return pattern
