"""Who a user is to the apps: groups (with their provenance) and profile attributes.

Resolved at sign-in and again at every directory sync, through the one group pipeline
(``core/groups.py``). Per-user state lives in the store, persistently:

* ``users/<username>``: what was resolved last time — the grants with provenance, the groups
  the provider and the directory reported, profile attributes, first-seen time. It is the
  ``previous`` of the pipeline (keep_local, protected, update_existing, "new user" defaults)
  and the fallback when the directory is down.
* ``local-groups/<username>``: groups assigned in the gateway itself (CLI, admin API).

Live sessions carry the resolved group names and profile, so the auth hot path stays one read;
a sync rewrites the live sessions of every user whose groups changed, and so does a change of
a user's local groups (:meth:`Identities.assign_local`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ssomw.config.schema import profile_header
from ssomw.core.claims import SignedIn, scoped_name
from ssomw.core.groups import Grant, GroupPipeline
from ssomw.directory.ldap import Directory, DirectoryUnavailable, DirectoryUser
from ssomw.store.base import Store

log = logging.getLogger("ssomw.users")
USERS = "users"
LOCAL_GROUPS = "local-groups"


@dataclass
class UserRecord:
    username: str
    first_seen: float
    grants: list[Grant] = field(default_factory=list)
    idp_groups: list[str] | None = None
    ldap_groups: list[str] | None = None
    ldap_profile: dict[str, Any] = field(default_factory=dict)
    synced_at: float | None = None
    # (provider, sub) pairs this name was signed in as: who the record belongs to
    subjects: list[list[str]] = field(default_factory=list)

    def dumps(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def loads(cls, raw: bytes) -> UserRecord:
        data = json.loads(raw)
        data["grants"] = [Grant(**{**g, "via": tuple(g["via"])}) for g in data["grants"]]
        return cls(**data)


def load_user(store: Store, username: str) -> UserRecord | None:
    raw = store.kv_get(USERS, username)
    return UserRecord.loads(raw) if raw else None


def local_groups(store: Store, username: str) -> list[str]:
    raw = store.kv_get(LOCAL_GROUPS, username)
    return json.loads(raw) if raw else []


def set_local_groups(store: Store, username: str, groups: Iterable[str]) -> list[str]:
    names = sorted({g.strip() for g in groups if g.strip()})
    if names:
        store.kv_set(LOCAL_GROUPS, username, json.dumps(names).encode(), None)
    else:
        store.kv_delete(LOCAL_GROUPS, username)
    return names


@dataclass(frozen=True)
class LocalChange:
    """What changing a user's local groups did."""

    local: list[str]          # the user's local groups now
    groups: list[str] | None  # the user's groups now; None: not seen yet (at first sign-in)
    sessions: int             # live sessions rewritten (in force at nginx within 1 s)


class Identities:
    """Group and profile resolution for one gateway process."""

    def __init__(self, config: Mapping[str, Any], store: Store):
        self.store = store
        self.pipeline = GroupPipeline.build(config["groups"])
        self.sources = set(config["groups"]["sources"])
        self.profile = dict(config["profile"])
        ldap = config["directory"].get("ldap")
        self.directory: Directory | None = None
        self.sync_on_sign_in = False
        if ldap:
            wanted = {s["ldap"] for s in self.profile.values() if "ldap" in s}
            settings = {**ldap, "attributes": sorted(set(ldap["attributes"]) | wanted)}
            self.directory = Directory(settings)
            self.sync_on_sign_in = ldap["sync_on_sign_in"]

    def profile_headers(self) -> dict[str, str]:
        """Attribute key (as in a session's data) → header name."""
        return {f"profile.{name}": profile_header(name, s) for name, s in self.profile.items()}

    def at_sign_in(self, who: SignedIn, provider: str, claims: Mapping[str, Any],
                   save: bool = True) -> tuple[list[str], dict[str, Any]]:
        """Resolve groups and profile for a sign-in; the directory is asked with a timeout
        and, when it is down, the last synced groups are used instead. The directory is
        searched by username only when the provider is authoritative for names, and by
        e-mail only when the address is trusted (``core/claims.py``). ``save=False`` (a bearer
        token, not a sign-in) resolves without writing the user's record."""
        username, email = who.user, who.email
        record = load_user(self.store, username)
        ldap_groups: list[str] | None = record.ldap_groups if record else None
        ldap_profile = record.ldap_profile if record else {}
        if self.directory is not None and self.sync_on_sign_in:
            try:
                by_name = who.name_is_authoritative
                found = (self.directory.find_user(username=username) if by_name else None) or (
                    self.directory.find_user(email=email) if email else None)
                ldap_groups = list(found.groups) if found else []
                ldap_profile = dict(found.attributes) if found else {}
            except DirectoryUnavailable as exc:
                log.warning("directory unavailable at sign-in of %r (%s); using the last "
                            "synced groups", username, exc)
        elif self.directory is None:
            ldap_groups = None
        record = self._resolve(username, record, list(who.groups), ldap_groups, ldap_profile,
                               save=save, subject=[provider, who.sub])
        return names(record.grants), self._profile(claims, record.ldap_profile)

    def from_directory(self, user: DirectoryUser, dry_run: bool = False) -> tuple[int, int]:
        """One directory user during a sync: (groups added, groups removed) for that user."""
        record = load_user(self.store, user.username)
        before = set(names(record.grants)) if record else set()
        idp_groups = record.idp_groups if record else None
        updated = self._resolve(user.username, record, idp_groups, list(user.groups),
                                dict(user.attributes), save=not dry_run)
        after = set(names(updated.grants))
        if not dry_run and after != before:
            self._update_sessions(user.username, sorted(after), updated.ldap_profile)
        return len(after - before), len(before - after)

    def assign_local(self, username: str, groups: Iterable[str]) -> LocalChange:
        """Set the user's local groups and put them in force at once, like a revocation: the
        groups are resolved again through the pipeline — with the provider's and the
        directory's groups as last seen, so nothing is asked of either — and every live
        session of the user is rewritten (``update_session_data``: a session that ends
        meanwhile stays ended). A user not seen yet gets them at the first sign-in.

        A user known only from emergency logins (they save no record) has the change made
        to each session's groups directly: removed local groups go, added ones come."""
        before = set(local_groups(self.store, username))
        local = set_local_groups(self.store, username, groups)
        record = load_user(self.store, username)
        if record is not None:
            updated = self._resolve(username, record, record.idp_groups, record.ldap_groups,
                                    record.ldap_profile)
            now = names(updated.grants)
            return LocalChange(local, now, self._update_sessions(
                username, now, updated.ldap_profile))
        if not (self.pipeline.keep_local and "local" in self.sources):
            return LocalChange(local, None, 0)
        added, removed = set(local) - before, before - set(local)
        rewritten = 0
        for session in self.store.sessions_by_user(username):
            old = set(session.data.get("groups", ()))
            new = sorted((old - removed) | added)
            if new != sorted(old) and self.store.update_session_data(
                    session.with_data(groups=new)):
                rewritten += 1
        return LocalChange(local, None, rewritten)

    def for_emergency(self, username: str, ldap_groups: list[str] | None) -> list[str]:
        """Groups for an emergency login: the same pipeline, the provider's part as last known
        (the provider may be down); nothing is saved."""
        record = load_user(self.store, username)
        updated = self._resolve(username, record, record.idp_groups if record else None,
                                ldap_groups, record.ldap_profile if record else {}, save=False)
        return names(updated.grants)

    def _resolve(self, username: str, record: UserRecord | None, idp_groups: list[str] | None,
                 ldap_groups: list[str] | None, ldap_profile: dict[str, Any],
                 save: bool = True, subject: list[str] | None = None) -> UserRecord:
        now = time.time()
        grants = self.pipeline.resolve(
            idp=idp_groups if "idp" in self.sources else None,
            ldap=ldap_groups if "ldap" in self.sources else None,
            local=local_groups(self.store, username) if "local" in self.sources else (),
            previous=record.grants if record else None)
        updated = UserRecord(
            username=username, first_seen=record.first_seen if record else now,
            grants=list(grants),
            idp_groups=idp_groups if idp_groups is not None else (
                record.idp_groups if record else None),
            ldap_groups=ldap_groups if ldap_groups is not None else (
                record.ldap_groups if record else None),
            ldap_profile=ldap_profile, synced_at=now,
            subjects=_with(record.subjects if record else [], subject))
        if save:
            self.store.kv_set(USERS, username, updated.dumps(), None)
        return updated

    def _profile(self, claims: Mapping[str, Any], ldap: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, settings in self.profile.items():
            value = claims.get(settings["claim"]) if "claim" in settings else \
                ldap.get(settings["ldap"])
            if value not in (None, "", []):
                out[name] = value
        return out

    def _update_sessions(self, username: str, groups: list[str],
                         ldap_profile: dict[str, Any]) -> int:
        """Rewrite the user's live sessions (changes on copies); how many were still live."""
        rewritten = 0
        for record in self.store.sessions_by_user(username):
            claims_profile = {k: v for k, v in record.data.get("profile", {}).items()
                              if "claim" in self.profile.get(k, {})}
            profile = {**claims_profile, **self._profile({}, ldap_profile)}
            if self.store.update_session_data(record.with_data(groups=groups,
                                                               profile=profile)):
                rewritten += 1
        return rewritten


def _with(subjects: list[list[str]], subject: list[str] | None) -> list[list[str]]:
    if subject is None or subject in subjects:
        return subjects
    return [*subjects, subject]


def names(grants: Iterable[Grant]) -> list[str]:
    return sorted({g.name for g in grants})


@dataclass(frozen=True)
class Migration:
    """Records of names that a provider no longer vouches for, and where they move."""

    renames: dict[str, str]          # old user name -> <sub>@<provider>
    sessions: list[str]              # live sessions made under the old name (ended)
    unmapped: list[str]              # stored users with no live session to tell their sub


def migrate_identities(store: Store, authoritative: Mapping[str, bool],
                       dry_run: bool = False) -> Migration:
    """Move each user signed in at a provider that is not authoritative for usernames to the
    name ``<sub>@<provider>`` (``core/claims.py``): local groups and the resolved record are
    copied to the new name (existing ones are kept), and the old sessions end so the user
    signs in again under the new name. Only live sessions tell which ``sub`` an old name
    had; other stored names are reported as unmapped for the operator to handle."""
    renames: dict[str, str] = {}
    ended: list[str] = []
    for record in store.all_sessions():
        if record.provider not in authoritative or authoritative[record.provider]:
            continue  # emergency sessions, and names the provider still vouches for
        new = scoped_name(record.sub, record.provider)
        if record.user == new:
            continue
        renames.setdefault(record.user, new)
        ended.append(record.id)
    if not dry_run:
        for old, new in renames.items():
            for namespace in (USERS, LOCAL_GROUPS):
                value = store.kv_get(namespace, old)
                if value is not None and store.kv_get(namespace, new) is None:
                    store.kv_set(namespace, new, value, None)
        store.delete_sessions(ended)
    known = {key for key, _ in store.kv_items(USERS)} | {
        key for key, _ in store.kv_items(LOCAL_GROUPS)}
    unmapped = sorted(name for name in known - set(renames) - set(renames.values())
                      if "@" not in name or name.rsplit("@", 1)[1] not in authoritative)
    return Migration(renames, ended, unmapped)
