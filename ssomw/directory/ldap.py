"""The LDAP directory: find a user, resolve their groups, check a password (ldap3).

Sign-in calls this on its hot path, so every network step is bounded by ``timeout``
(connect, and each operation) and every failure of the directory itself — down, hung, TLS
refused, service bind refused, partial results — is one exception, :class:`DirectoryUnavailable`,
that callers answer with their fallback. A wrong *user* password is not an outage: it is
``None`` from :meth:`Directory.check_password`.

    directory = Directory(config["directory"]["ldap"])
    user = directory.find_user(email="alice@example.com")   # DirectoryUser | None
    for user in directory.iter_users(): ...                  # sync: groups loaded once

Two group models, chosen by configuration: OpenLDAP style (``group_member_attr: member`` on
``groupOfNames``, or ``memberUid`` on ``posixGroup``) and Active Directory style (``member_of:
true``: the user's and the groups' ``memberOf``). Nesting is resolved cycle-safe either way.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ldap3 import BASE, SUBTREE, Connection
from ldap3.core.exceptions import LDAPException, LDAPNoSuchObjectResult
from ldap3.utils.conv import escape_filter_chars

from ssomw.directory.connections import (
    BindRefused,
    Connector,
    DirectoryUnavailable,
    close,
    describe,
    tighten,
)
from ssomw.directory.groups import GroupIndex, member_key, normalize_dn

__all__ = ["Directory", "DirectoryUnavailable", "DirectoryUser"]
log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "start_tls": False,
    "ca_file": None,
    "bind_dn": None,
    "bind_password": None,
    "user_filter": "(objectClass=inetOrgPerson)",
    "username_attr": "uid",
    "email_attr": "mail",
    "group_base": None,
    "group_filter": "(objectClass=groupOfNames)",
    "group_name_attr": "cn",
    "group_member_attr": "member",
    "member_of": False,
    "nested": True,
    "page_size": 500,
    "timeout": 3.0,
    "pool_size": 4,
    "attributes": [],
}
MEMBER_OF = "memberOf"
_OR_CHUNK = 100  # group DNs per (|(member=..)...) filter during nested lookups


@dataclass(frozen=True)
class DirectoryUser:
    dn: str
    username: str
    email: str | None
    groups: tuple[str, ...]  # group names, nested resolved, sorted
    attributes: dict[str, str | list[str]] = field(default_factory=dict)


class Directory:
    """One configured directory; thread-safe, connections are pooled and reused."""

    def __init__(self, settings: dict[str, Any]) -> None:
        s = {**DEFAULTS, **settings}
        self.timeout = float(s["timeout"])
        self.user_base, self.user_filter = s["user_base"], _parenthesize(s["user_filter"])
        self.username_attr, self.email_attr = s["username_attr"], s["email_attr"]
        self.group_base = s["group_base"]
        self.group_filter = _parenthesize(s["group_filter"])
        self.group_name_attr, self.member_attr = s["group_name_attr"], s["group_member_attr"]
        self.member_of, self.nested = bool(s["member_of"]), bool(s["nested"])
        self.page_size = int(s["page_size"])
        self.extra_attrs: list[str] = list(s["attributes"])
        self._by_uid = self.member_attr.lower() == "memberuid"  # posixGroup lists usernames
        self._net = Connector(
            s["url"] if isinstance(s["url"], list) else [s["url"]], timeout=self.timeout,
            start_tls=bool(s["start_tls"]), ca_file=s["ca_file"], bind_dn=s["bind_dn"],
            bind_password=s["bind_password"], pool_size=int(s["pool_size"]),
        )  # fmt: skip

    # -- public API --------------------------------------------------------------------------
    def find_user(
        self, *, username: str | None = None, email: str | None = None
    ) -> DirectoryUser | None:
        """The one user matching username and/or e-mail; None when none or several match."""
        terms = [(self.username_attr, username), (self.email_attr, email)]
        terms = [(attr, value) for attr, value in terms if value is not None]
        if not terms:
            raise ValueError("find_user needs username or email")
        if any(not value for _, value in terms):
            return None
        match = "".join(f"({attr}={escape_filter_chars(value)})" for attr, value in terms)
        return self._lookup(f"(&{self.user_filter}{match})", self._net.deadline())

    def iter_users(self) -> Iterator[DirectoryUser]:
        """Every user, paged; groups come from one paged load of all groups, resolved in memory.

        Runs on its own connection, so a long sync never holds a pooled one that sign-in needs.
        """
        conn = self._net.open()
        try:
            index = self._load_groups(conn) if self.group_base else GroupIndex()
            for entry in self._paged(conn, self.user_base, self.user_filter, self._user_attrs()):
                attrs = entry["attributes"]
                username = _first(attrs.get(self.username_attr))
                if not username:
                    continue
                if self.member_of:
                    direct = index.known(attrs.get(MEMBER_OF, []))
                else:
                    direct = index.members_of(member_key(username if self._by_uid else entry["dn"]))
                names = index.names(direct, nested=self.nested)
                yield self._user(entry, names)
        finally:
            close(conn)

    def count_users(self) -> int | None:
        """How many users iter_users() will yield (one paged search without attributes)."""
        conn = self._net.open()
        try:
            return sum(1 for _ in self._paged(conn, self.user_base, self.user_filter, ["1.1"]))
        finally:
            close(conn)

    def check_password(self, username: str, password: str) -> DirectoryUser | None:
        """The user if a simple bind as their DN succeeds with this password, else None.

        Every call does the same work — one user search, then one bind — so how long it takes
        does not tell whether the user exists. When there is no one to bind as (unknown user,
        empty username) or nothing to bind with (an empty password is an unauthenticated bind
        that "succeeds" without checking anything, RFC 4513 §5.1.2), the bind goes to a random
        DN under ``user_base`` that does not exist, with a random password; never to the
        service account, whose failed binds could lock it out.
        """
        deadline = self._net.deadline()  # one budget for the lookup and the bind together
        name = escape_filter_chars(username or secrets.token_hex(16))
        user = self._lookup(f"(&{self.user_filter}({self.username_attr}={name}))", deadline)
        if user is None or not username or not password:
            self._decoy_bind(deadline)
            return None
        try:
            conn = self._net.open(user.dn, password, deadline)
        except BindRefused:
            return None
        close(conn)
        return user

    def _decoy_bind(self, deadline: float) -> None:
        """A bind that fails like a wrong password does: a random DN that is nobody's."""
        dn = f"{self.username_attr}={secrets.token_hex(16)},{self.user_base}"
        try:
            close(self._net.open(dn, secrets.token_urlsafe(16), deadline))
        except BindRefused:
            pass

    def ping(self) -> None:
        """Raise DirectoryUnavailable unless the service bind and a base search work."""

        def probe(conn: Connection, deadline: float) -> None:
            tighten(conn, deadline)
            conn.search(self.user_base, "(objectClass=*)", BASE, attributes=["1.1"])

        self._net.run(probe, self._net.deadline())

    def close(self) -> None:
        """Unbind idle pooled connections (shutdown, tests); reconnects lazily afterwards."""
        self._net.close()

    # -- lookups -----------------------------------------------------------------------------
    def _user_attrs(self) -> list[str]:
        attrs = [self.username_attr, self.email_attr, *self.extra_attrs]
        return attrs + [MEMBER_OF] if self.member_of else attrs

    def _lookup(self, query: str, deadline: float) -> DirectoryUser | None:
        return self._net.run(lambda conn, deadline: self._find(conn, query, deadline), deadline)

    def _find(self, conn: Connection, query: str, deadline: float) -> DirectoryUser | None:
        tighten(conn, deadline)
        conn.search(self.user_base, query, SUBTREE, attributes=self._user_attrs(), size_limit=2)
        entries = [e for e in conn.response if e.get("type") == "searchResEntry"]
        if len(entries) != 1:
            if entries:
                log.warning("directory: %s matches several users; refusing to guess", query)
            return None
        entry = entries[0]
        if not _first(entry["attributes"].get(self.username_attr)):
            return None
        groups = self._groups_of(conn, entry, deadline) if self.group_base else ()
        return self._user(entry, groups)

    def _groups_of(self, conn: Connection, entry: dict, deadline: float) -> tuple[str, ...]:
        """One user's groups with a few searches: one per nesting level, not one per group."""
        names: set[str] = set()
        seen: set[str] = set()  # normalized DNs of groups already counted: cycles end here
        if self.member_of:
            frontier = list(entry["attributes"].get(MEMBER_OF, []))
        else:
            uid = _first(entry["attributes"].get(self.username_attr)) or ""
            frontier = [uid if self._by_uid else entry["dn"]]
        while frontier:
            upward: list[str] = []
            tighten(conn, deadline)
            for dn, name, parents in self._group_step(conn, frontier):
                if normalize_dn(dn) in seen:
                    continue
                seen.add(normalize_dn(dn))
                if name:
                    names.add(name)
                if self.nested:
                    upward.extend(parents if self.member_of else [dn])
            frontier = [dn for dn in dict.fromkeys(upward)
                        if not self.member_of or normalize_dn(dn) not in seen]
        return tuple(sorted(names))

    def _group_step(self, conn: Connection, keys: list[str]) -> list[tuple[str, str, list[str]]]:
        """(dn, name, memberOf) of the groups `keys` point to (member_of) or are members of."""
        attrs = [self.group_name_attr, MEMBER_OF] if self.member_of else [self.group_name_attr]
        found: list[dict] = []
        if self.member_of:
            base = normalize_dn(self.group_base)
            for dn in keys:
                if normalize_dn(dn) == base or normalize_dn(dn).endswith("," + base):
                    found += self._read(conn, dn, attrs)
        else:
            for i in range(0, len(keys), _OR_CHUNK):
                alts = "".join(f"({self.member_attr}={escape_filter_chars(k)})"
                               for k in keys[i:i + _OR_CHUNK])
                query = f"(&{self.group_filter}(|{alts}))"
                found += self._paged(conn, self.group_base, query, attrs)
        return [(e["dn"], _first(e["attributes"].get(self.group_name_attr)) or "",
                 list(e["attributes"].get(MEMBER_OF, []))) for e in found]

    def _read(self, conn: Connection, dn: str, attrs: list[str]) -> list[dict]:
        try:
            conn.search(dn, self.group_filter, BASE, attributes=attrs)
        except LDAPNoSuchObjectResult:
            return []  # a memberOf value pointing at a deleted group
        return [e for e in conn.response if e.get("type") == "searchResEntry"]

    def _load_groups(self, conn: Connection) -> GroupIndex:
        index = GroupIndex()
        attrs = [self.group_name_attr, MEMBER_OF if self.member_of else self.member_attr]
        for entry in self._paged(conn, self.group_base, self.group_filter, attrs):
            attrs_of = entry["attributes"]
            name = _first(attrs_of.get(self.group_name_attr))
            if self.member_of:
                index.add(entry["dn"], name, parents=attrs_of.get(MEMBER_OF, []))
            else:
                index.add(entry["dn"], name, members=attrs_of.get(self.member_attr, []))
        return index

    def _user(self, entry: dict, groups: tuple[str, ...]) -> DirectoryUser:
        attrs = entry["attributes"]
        extra: dict[str, str | list[str]] = {}
        for name in self.extra_attrs:
            values = [v for v in attrs.get(name, []) if isinstance(v, str)]  # skip binary
            if values:
                extra[name] = values[0] if len(values) == 1 else values
        return DirectoryUser(
            dn=entry["dn"], username=_first(attrs.get(self.username_attr)) or "",
            email=_first(attrs.get(self.email_attr)), groups=groups, attributes=extra,
        )  # fmt: skip

    def _paged(self, conn: Connection, base: str, query: str, attrs: list[str]) -> Iterator[dict]:
        """Entries of a paged subtree search; errors and truncation become DirectoryUnavailable."""
        pages = conn.extend.standard.paged_search(
            base, query, SUBTREE, attributes=attrs, paged_size=self.page_size, generator=True
        )
        try:
            for entry in pages:
                if entry.get("type") == "searchResEntry":  # skip referrals (AD's DomainDnsZones)
                    yield entry
        except (LDAPException, OSError) as exc:
            raise DirectoryUnavailable(f"search under {base} failed: {describe(exc)}") from exc
        if conn.result and conn.result.get("result") not in (0, None):
            # sizeLimitExceeded/timeLimitExceeded are not raised by ldap3: a partial list would
            # look like users who left, so it must never pass as complete.
            raise DirectoryUnavailable(
                f"search under {base} incomplete: {conn.result.get('description')}"
            )


def _parenthesize(query: str) -> str:
    """Accept "objectClass=person" as well as "(objectClass=person)" from the config."""
    query = query.strip()
    return query if query.startswith("(") else f"({query})"


def _first(values: Any) -> str | None:
    if isinstance(values, list):
        values = values[0] if values else None
    return values if isinstance(values, str) else None


