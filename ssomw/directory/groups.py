"""Group membership resolved in memory: no I/O here, so nesting rules are testable alone.

A sync loads every group once (name plus either its member list or its own ``memberOf``) into a
:class:`GroupIndex`; each user's groups are then a dictionary lookup plus a cached walk up the
nesting graph, instead of one directory search per user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_RDN_SEPARATOR = re.compile(r"(?<!\\),")


def normalize_dn(dn: str) -> str:
    """A DN in a form fit for comparison: directories echo DNs with varying case and spacing."""
    return ",".join(part.strip() for part in _RDN_SEPARATOR.split(dn)).lower()


def member_key(value: str) -> str:
    """The lookup key of a member value: a DN (``member``) or a bare username (``memberUid``)."""
    return normalize_dn(value) if "=" in value else value.strip().lower()


class GroupIndex:
    """Groups by normalized DN, and who belongs to which group (directly)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._parents: dict[str, set[str]] = {}  # member key -> groups it is directly in
        self._closures: dict[str, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self._names)

    def add(
        self, dn: str, name: str | None, *, members: Iterable[str] = (),
        parents: Iterable[str] = (),
    ) -> None:  # fmt: skip
        """Record a group with its members (OpenLDAP style) or its parents (memberOf style)."""
        group = normalize_dn(dn)
        self._names[group] = name or ""
        for member in members:
            self._parents.setdefault(member_key(member), set()).add(group)
        for parent in parents:
            self._parents.setdefault(group, set()).add(normalize_dn(parent))
        self._closures.clear()

    def members_of(self, key: str) -> set[str]:
        """Groups that list this member key directly (see :func:`member_key`)."""
        return set(self._parents.get(key, ()))

    def known(self, dns: Iterable[str]) -> set[str]:
        """The given group DNs (a user's memberOf) that are groups of this index."""
        return {g for g in map(normalize_dn, dns) if g in self._names}

    def names(self, direct: Iterable[str], *, nested: bool) -> tuple[str, ...]:
        """Sorted names of the direct groups, plus every group containing them when nested."""
        groups: set[str] = set()
        for group in direct:
            groups |= self._closure(group) if nested else {group}
        return tuple(sorted({self._names[g] for g in groups if self._names.get(g)}))

    def _closure(self, group: str) -> frozenset[str]:
        """The group and all its ancestors; the visited set makes cycles terminate."""
        cached = self._closures.get(group)
        if cached is not None:
            return cached
        seen = {group}
        todo = [group]
        while todo:
            for parent in self._parents.get(todo.pop(), ()):
                if parent not in seen and parent in self._names:
                    seen.add(parent)
                    todo.append(parent)
        result = self._closures[group] = frozenset(seen)
        return result
