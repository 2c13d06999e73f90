"""Which groups a user has (contract §4.6): built once, resolved at every sign-in and sync.

:meth:`GroupPipeline.build` compiles the ``groups:`` section (regexes, replacement templates,
map, default groups), collecting *every* problem before failing. :meth:`GroupPipeline.resolve`
runs at every sign-in and for every user of a directory sync, so it compiles nothing: it runs
precompiled patterns and hands out default grants made at build time.

The pipeline, in order:

1. ``update_existing: false`` and a user seen before (``previous`` not None): ``previous`` is
   returned unchanged; nothing below runs.
2. Collect each source in ``sources``. ``idp``/``ldap`` None means the source could not be
   asked this time (a sync has no ID token; the directory may be down): what it gave last time
   is carried over as ``kept``, even where another source's grant of the same name hid it, so
   an outage never strips a group. A bare string is one name; non-strings and "" are ignored.
3. Filter (idp and ldap names only; local and default groups are local names already):
   ``mode: all`` keeps every name, ``none`` none, ``include`` those some ``include`` regex
   finds (``re.search``); then a name any ``exclude`` regex finds is dropped, in every mode.
4. Rewrite: each rule, in order, whose regex finds the name rewrites it as ``re.sub`` does
   (every occurrence; anchor with ``^…$`` to replace the whole name); the next rule sees the
   result. An empty result drops the name.
5. Map: a name listed in ``map`` becomes each of its local names; others pass unchanged.
6. ``default_groups``: ``for: all`` every time; ``for: new`` when the user is first seen
   (``previous`` None), then carried over while a ``for: new`` rule still lists the group, so
   "new users get X" does not take X away again at the next sync.
7. Local groups (assigned in the gateway), when ``local`` is in ``sources`` and ``keep_local``
   is true. ``keep_local: false`` makes sync authoritative: local assignments do not count.
8. ``protected``: a protected group in ``previous`` that nothing above granted stays.

A name granted twice keeps the first grant in the order idp, ldap, default, local, protected
(``kept`` grants stand in their source's place); the others are appended to its ``via`` as
``also: …`` steps. Each source's names are taken sorted, so the result never depends on the
order a provider lists groups in. Names are case-sensitive; the result is sorted by name.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from ssomw.core.errors import Errors, RulesError, regex, regexes, strings

Source = Literal["idp", "ldap", "local", "default", "protected", "kept"]
SOURCES = ("idp", "ldap", "local")
MODES = ("all", "none", "include")
FOR = ("all", "new")
LOCAL_STEP = "assigned locally in the gateway"
ALSO = "also: "  # a later source gave the same name; the step after it is that grant's first
# The first ``via`` step of a kept grant; it also records which source the grant stands for,
# so a second outage in a row keeps it again.
KEPT_STEPS = {"idp": "kept: idp groups unavailable, carried over from the previous grant",
              "ldap": "kept: directory unavailable, carried over from the previous grant"}
_KEPT_SOURCE = {step: source for source, step in KEPT_STEPS.items()}
_LABELS = {"idp": "idp claim value", "ldap": "ldap group"}


class GroupsError(RulesError):
    """Every problem found in the ``groups`` section, as ``(path, message)`` pairs."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One group a user has, and why: stored with the user and shown to admins.

    ``origin`` is the name at the source before rewrite and map ("" for default and local
    groups); ``via`` the steps from that name to ``name``, the first naming the source.
    """

    name: str
    source: Source
    origin: str
    via: tuple[str, ...]


@dataclass(frozen=True)
class Rewrite:
    index: int
    pattern: re.Pattern[str]
    replace: str


@dataclass(frozen=True)
class DefaultGroups:
    index: int
    groups: tuple[str, ...]
    when: Literal["all", "new"]


def names(grants: Iterable[Grant]) -> list[str]:
    """The group names of ``grants``, sorted and without duplicates."""
    return sorted({grant.name for grant in grants})


@dataclass(frozen=True)
class GroupPipeline:
    """The compiled ``groups`` section; use :meth:`build`."""

    sources: frozenset[str] = frozenset(SOURCES)
    mode: Literal["all", "none", "include"] = "all"
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    rewrite: tuple[Rewrite, ...] = ()
    map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_groups: tuple[DefaultGroups, ...] = ()
    keep_local: bool = True
    protected: frozenset[str] = frozenset()
    update_existing: bool = True

    names = staticmethod(names)

    def __post_init__(self) -> None:
        # Default grants are the same for everyone: make them once.
        for_all: list[Grant] = []
        for_new: list[Grant] = []
        for rule in self.default_groups:
            step = f"default_groups[{rule.index}] (for: {rule.when})"
            made = [Grant(name, "default", "", (step,)) for name in rule.groups]
            (for_all if rule.when == "all" else for_new).extend(made)
        object.__setattr__(self, "_for_all", tuple(for_all))
        object.__setattr__(self, "_for_new", tuple(for_new))
        object.__setattr__(self, "_new", {g.name: g for g in reversed(for_new)})

    @classmethod
    def build(cls, section: Mapping[str, Any] | None) -> GroupPipeline:
        """Compile ``section`` (None: every default); raises :class:`GroupsError` listing
        every problem found."""
        section = {} if section is None else section
        if not isinstance(section, Mapping):
            raise GroupsError([("groups", "must be a mapping")])
        errors: Errors = []
        mode, include, exclude = _filter(section.get("filter"), errors)
        pipeline = cls(
            sources=_sources(section.get("sources"), errors), mode=mode, include=include,
            exclude=exclude, rewrite=_rewrites(section.get("rewrite"), errors),
            map=MappingProxyType(_map(section.get("map"), errors)),
            default_groups=_defaults(section.get("default_groups"), errors),
            keep_local=_flag(section, "keep_local", errors),
            protected=frozenset(strings(section.get("protected"), "groups.protected", errors)
                                or ()),
            update_existing=_flag(section, "update_existing", errors))
        if errors:
            raise GroupsError(errors)
        return pipeline

    def resolve(self, *, idp: Iterable[str] | None, ldap: Iterable[str] | None,
                local: Iterable[str], previous: Sequence[Grant] | None) -> tuple[Grant, ...]:
        """The user's grants now, sorted by name (the module docstring gives the order)."""
        if previous is not None and not self.update_existing:
            return tuple(previous)
        chosen: dict[str, Grant] = {}
        also: dict[str, list[str]] = {}

        def offer(grants: Iterable[Grant]) -> None:
            for grant in grants:
                first = chosen.setdefault(grant.name, grant)
                if first is not grant:
                    also.setdefault(grant.name, []).append(ALSO + grant.via[0])

        for source, values in (("idp", idp), ("ldap", ldap)):
            if source not in self.sources:
                continue
            if values is None:
                offer(_kept(source, previous))
            elif self.mode != "none":
                for value in _values(values):
                    offer(self._transform(source, value))
        offer(self._for_all)
        if previous is None:
            offer(self._for_new)
        elif self._new:
            offer(self._new[g.name] for g in previous
                  if g.name in self._new and _given_by(g, "default"))
        if self.keep_local and "local" in self.sources:
            offer(Grant(name, "local", "", (LOCAL_STEP,)) for name in _values(local))
        if self.protected and previous:
            offer(_protect(g) for g in previous
                  if g.name in self.protected and g.name not in chosen)
        return tuple(
            replace(chosen[name], via=chosen[name].via + tuple(also[name])) if name in also
            else chosen[name] for name in sorted(chosen))

    def _transform(self, source: Literal["idp", "ldap"], origin: str) -> list[Grant]:
        """Filter, rewrite and map one name from ``source``: zero, one or several grants."""
        via = [f"{_LABELS[source]} {origin!r}"]
        if self.mode == "include":
            for k, pattern in enumerate(self.include):
                if pattern.search(origin):
                    via.append(f"filter.include[{k}] {pattern.pattern!r} matched")
                    break
            else:
                return []
        for pattern in self.exclude:
            if pattern.search(origin):
                return []
        name = origin
        for rule in self.rewrite:
            name, count = rule.pattern.subn(rule.replace, name)
            if count:
                if not name:
                    return []
                via.append(f"rewrite[{rule.index}] -> {name!r}")
        targets = self.map.get(name)
        if targets is None:
            return [Grant(name, source, origin, tuple(via))]
        return [Grant(target, source, origin, (*via, f"map {name!r} -> {target!r}"))
                for target in targets]


def _values(values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        values = (values,)
    return sorted({value for value in values if isinstance(value, str) and value})


def _bare(grant: Grant) -> Grant:
    """``grant`` without its ``also:`` steps: they are recomputed, not carried over."""
    if not any(step.startswith(ALSO) for step in grant.via):
        return grant
    via = tuple(step for step in grant.via if not step.startswith(ALSO))
    return Grant(grant.name, grant.source, grant.origin, via)


def _step_source(step: str) -> tuple[str, str]:
    """The source a first ``via`` step names, and the origin it quotes (or "")."""
    if step in _KEPT_SOURCE:
        return _KEPT_SOURCE[step], ""
    for source, label in _LABELS.items():
        if step.startswith(label + " "):
            try:
                origin = ast.literal_eval(step[len(label) + 1:])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                origin = ""
            return source, origin if isinstance(origin, str) else ""
    return ("default", "") if step.startswith("default_groups[") else ("", "")


def _given_by(grant: Grant, source: str) -> bool:
    """Whether ``source`` gave ``grant``, as its winner or as an ``also:`` step."""
    first = grant.via[0] if grant.via else ""
    if grant.source == source or (grant.source == "kept" and _step_source(first)[0] == source):
        return True
    return any(step.startswith(ALSO) and _step_source(step[len(ALSO):])[0] == source
               for step in grant.via)


def _kept(source: str, previous: Sequence[Grant] | None) -> list[Grant]:
    """What ``source`` gave last time (directly, shadowed by another source's grant of the
    same name, or kept through earlier outages), to carry over while it cannot be asked."""
    kept: list[Grant] = []
    for grant in previous or ():
        if grant.source == source:
            grant = _bare(grant)
            kept.append(Grant(grant.name, "kept", grant.origin,
                              (KEPT_STEPS[source], *grant.via)))
        elif grant.source == "kept" and grant.via and _KEPT_SOURCE.get(grant.via[0]) == source:
            kept.append(_bare(grant))
        else:  # hidden behind another source's grant: only its first step was recorded
            hidden = [(step[len(ALSO):], _step_source(step[len(ALSO):])) for step in grant.via
                      if step.startswith(ALSO)]
            for first, (given_by, origin) in hidden:
                if given_by == source:
                    via = (first,) if first in _KEPT_SOURCE else (KEPT_STEPS[source], first)
                    kept.append(Grant(grant.name, "kept", origin, via))
                    break
    return kept


def _protect(grant: Grant) -> Grant:
    grant = _bare(grant)
    if grant.source == "protected":
        return grant
    step = f"protected: kept from the previous {grant.source} grant"
    return Grant(grant.name, "protected", grant.origin, (step, *grant.via))


# --- building: every check records (path, message) and carries on -------------------------


def _flag(section: Mapping[str, Any], key: str, errors: Errors) -> bool:
    value = section.get(key, True)
    if isinstance(value, bool):
        return value
    errors.append((f"groups.{key}", "must be true or false"))
    return True


def _sources(value: object, errors: Errors) -> frozenset[str]:
    if value is None:
        return frozenset(SOURCES)
    listed = strings(value, "groups.sources", errors) or ()
    for k, source in enumerate(listed):
        if source not in SOURCES:
            errors.append((f"groups.sources[{k}]",
                           f"unknown source {source!r}; expected one of {', '.join(SOURCES)}"))
    return frozenset(listed)


def _filter(raw: object, errors: Errors) -> tuple[Any, tuple[re.Pattern[str], ...],
                                                  tuple[re.Pattern[str], ...]]:
    if raw is None:
        return "all", (), ()
    if not isinstance(raw, Mapping):
        errors.append(("groups.filter", "must be a mapping with mode, include, exclude"))
        return "all", (), ()
    mode = raw.get("mode", "all")
    if mode not in MODES:
        errors.append(("groups.filter.mode", f"must be one of {', '.join(MODES)}"))
    include = regexes(raw.get("include"), "groups.filter.include", errors)
    exclude = regexes(raw.get("exclude"), "groups.filter.exclude", errors)
    if mode == "include" and not raw.get("include"):
        errors.append(("groups.filter.include", "mode include needs at least one regex; "
                       "use mode none to take no groups from the provider or directory"))
    elif mode in ("all", "none") and raw.get("include"):
        errors.append(("groups.filter.include", f"only applies to mode include, not {mode}"))
    return mode, include, exclude


def _rewrites(raw: object, errors: Errors) -> tuple[Rewrite, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append(("groups.rewrite", "must be a list of {match, replace} rules"))
        return ()
    rules: list[Rewrite] = []
    for i, item in enumerate(raw):
        base = f"groups.rewrite[{i}]"
        if not isinstance(item, Mapping):
            errors.append((base, "must be a mapping with match and replace"))
            continue
        template = item.get("replace")
        if not isinstance(template, str):
            errors.append((f"{base}.replace", 'is required and must be a string ("" drops '
                           "the groups the rule matches)"))
        pattern = regex(item.get("match"), f"{base}.match", errors)
        if pattern is None or not isinstance(template, str):
            continue
        try:  # the template is parsed before any matching, so "" checks every reference
            pattern.sub(template, "")
            rules.append(Rewrite(i, pattern, template))
        except (re.error, IndexError) as exc:
            errors.append((f"{base}.replace", f"invalid replacement template: {exc}"))
    return tuple(rules)


def _map(raw: object, errors: Errors) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(("groups.map", "must map source group names to lists of local names"))
        return {}
    mapping: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key:
            errors.append((f"groups.map.{key}", "a source group name must be a non-empty string"))
            continue
        targets = strings(value, f"groups.map.{key}", errors, required=True,
                          empty="to drop a group, use filter.exclude") or ()
        mapping[key] = tuple(dict.fromkeys(targets))
    return mapping


def _defaults(raw: object, errors: Errors) -> tuple[DefaultGroups, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append(("groups.default_groups", "must be a list of {groups, for} entries"))
        return ()
    rules: list[DefaultGroups] = []
    for i, item in enumerate(raw):
        base = f"groups.default_groups[{i}]"
        if not isinstance(item, Mapping):
            errors.append((base, "must be a mapping with groups and for"))
            continue
        groups = strings(item.get("groups"), f"{base}.groups", errors, required=True,
                         empty="leave the entry out instead") or ()
        when = item.get("for", "all")
        if when not in FOR:
            errors.append((f"{base}.for", "must be all (every user) or new (users seen for "
                           "the first time)"))
            continue
        rules.append(DefaultGroups(i, tuple(dict.fromkeys(groups)), when))
    return tuple(rules)
