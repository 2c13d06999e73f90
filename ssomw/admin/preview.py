"""Impact preview (contract §11): what a configuration would change for the people using the
gateway — computed, never applied.

Who is looked at: every **known user**, that is everyone with a live session or a stored user
record (``users/<name>``: whoever signed in once, or came in through a directory sync), and
every **live session**. Nothing is written, no provider or directory is asked.

* **Users**: their access to each app before and after. "Access" is the decision at the app's
  start page (``path_prefix``, ``GET``, from an address no network rule names) — the same
  compiled rules as ``/sso/auth`` and ``/explain``; ``allow`` and ``bypass`` are access,
  ``forbidden``, ``login`` (e.g. a provider the app does not take) and ``passthrough`` (the
  app's own login) are not. Before: the groups as last resolved, under the active rules.
  After: the groups the new ``groups`` section would give (the same pipeline as a sign-in or a
  sync, fed with what the provider and the directory said last time), under the new rules.
* **Live sessions**: what happens to each at once. A session ends when its cookie's signing
  key leaves ``session.secret_keys`` (a key it may have been signed with: the first one), when
  ``session.name`` changes, or when it has been idle longer than a shorter ``idle_timeout``;
  a session whose provider is removed ends at its next token refresh (with
  ``refresh_tokens``), else keeps working until it ends. Otherwise the session's groups stay
  as they are until the next sign-in or directory sync (so its access is judged with them),
  and the identity headers it would send to each app it can still reach are compared by name
  and value (only the names are reported).

Paths other than the start page are not probed: use ``/explain`` for one URL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ssomw.config import Config
from ssomw.config.schema import profile_header
from ssomw.config.versions import canonical
from ssomw.core.assurance import EMERGENCY_PROVIDER, Identity
from ssomw.core.groups import Grant, GroupPipeline
from ssomw.core.headers import identity_headers
from ssomw.gateway.access import attributes_of
from ssomw.identity.users import USERS, UserRecord, local_groups
from ssomw.store.base import SessionRecord, Store

ACCESS = frozenset({"allow", "bypass"})


@dataclass(frozen=True)
class Known:
    """A known user as the preview sees them: provider and groups, from where."""

    user: str
    provider: str
    groups: frozenset[str]
    record: UserRecord | None
    sessions: tuple[SessionRecord, ...]
    acr: str | None = None
    auth_time: float | None = None

    def identity(self, groups: Iterable[str] | None = None) -> Identity:
        return Identity(self.user, self.provider,
                        frozenset(self.groups if groups is None else groups),
                        self.acr, self.auth_time)


@dataclass
class Impact:
    """The answer: only users and sessions something happens to are listed."""

    known_users: int = 0
    live_sessions: int = 0
    users: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"known_users": self.known_users, "live_sessions": self.live_sessions,
                "users": self.users, "sessions": self.sessions}

    @property
    def quiet(self) -> bool:
        return not self.users and not self.sessions


def impact(store: Store, old: Config, new: Config, now: float | None = None) -> Impact:
    """What making ``new`` active instead of ``old`` would do (reads the store only)."""
    now = time.time() if now is None else now
    sessions = store.all_sessions()
    known = known_users(store, sessions)
    regroup = canonical(old["groups"]) != canonical(new["groups"])
    pipeline = GroupPipeline.build(new["groups"]) if regroup else None
    out = Impact(known_users=len(known), live_sessions=len(sessions))
    for person in sorted(known.values(), key=lambda k: k.user):
        groups = person.groups
        if pipeline is not None and person.record is not None:
            grants = regrouped(pipeline, new["groups"]["sources"], store, person.record)
            groups = frozenset(g.name for g in grants)
        apps = access_changes(old, new, person.identity(), person.identity(groups), now)
        added, removed = sorted(groups - person.groups), sorted(person.groups - groups)
        if apps or added or removed:
            out.users.append({
                "user": person.user, "provider": person.provider or None,
                **gains_and_losses(apps), "apps": apps,
                "groups": {"added": added, "removed": removed}})
    for record in sorted(sessions, key=lambda r: (r.user, r.created)):
        entry = session_change(old, new, record, now)
        if entry is not None:
            out.sessions.append(entry)
    return out


def known_users(store: Store, sessions: list[SessionRecord]) -> dict[str, Known]:
    """Everyone with a stored record or a live session; provider and level from the newest
    session, else the provider the record was last signed in at."""
    records = {name: UserRecord.loads(raw) for name, raw in store.kv_items(USERS)}
    by_user: dict[str, list[SessionRecord]] = {}
    for record in sessions:
        by_user.setdefault(record.user, []).append(record)
    known = {}
    for name in sorted(set(records) | set(by_user)):
        record = records.get(name)
        mine = tuple(sorted(by_user.get(name, ()), key=lambda r: r.created))
        newest = mine[-1] if mine else None
        if record is not None:
            groups = frozenset(g.name for g in record.grants)
        else:
            groups = frozenset(newest.data.get("groups", ())) if newest else frozenset()
        provider = newest.provider if newest else (
            record.subjects[-1][0] if record and record.subjects else "")
        data = newest.data if newest else {}
        acr, auth_time = data.get("acr"), data.get("auth_time")
        known[name] = Known(name, provider, groups, record, mine,
                            acr if isinstance(acr, str) else None,
                            float(auth_time) if isinstance(auth_time, (int, float)) else None)
    return known


def regrouped(pipeline: GroupPipeline, sources: Iterable[str], store: Store,
              record: UserRecord) -> tuple[Grant, ...]:
    """The user's grants under ``pipeline``, from what the provider and the directory said
    last time and the local groups now (as a directory sync would resolve them)."""
    wanted = set(sources)
    return pipeline.resolve(
        idp=record.idp_groups if "idp" in wanted else None,
        ldap=record.ldap_groups if "ldap" in wanted else None,
        local=local_groups(store, record.username) if "local" in wanted else (),
        previous=record.grants)


def start_outcomes(config: Config, identity: Identity, now: float
                   ) -> dict[str, tuple[str, str]]:
    """App id → (outcome, reason) at each app's start page for ``identity``."""
    policy = config.policy
    return {app.id: ((d := policy.decide(app, "GET", app.path_prefix, "", identity, now))
                     .outcome, d.reason) for app in policy.apps}


def access_changes(old: Config, new: Config, before: Identity, after: Identity,
                   now: float) -> list[dict[str, Any]]:
    """Apps whose start-page outcome changes (an app only in one config: ``none`` in the
    other, as an unknown host is refused)."""
    was, now_ = start_outcomes(old, before, now), start_outcomes(new, after, now)
    changes = []
    for app_id in sorted(set(was) | set(now_)):
        a, b = was.get(app_id, ("none", "")), now_.get(app_id, ("none", "no such app"))
        if a[0] != b[0]:
            changes.append({"app": app_id, "before": a[0], "after": b[0], "reason": b[1]})
    return changes


def gains_and_losses(apps: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Apps reached now and not before (``gains``), and the reverse (``loses``); a change
    from ``allow`` to ``bypass`` (say ``sso: false``) is neither, only listed in ``apps``."""
    return {"gains": [a["app"] for a in apps
                      if a["after"] in ACCESS and a["before"] not in ACCESS],
            "loses": [a["app"] for a in apps
                      if a["before"] in ACCESS and a["after"] not in ACCESS]}


def session_change(old: Config, new: Config, record: SessionRecord, now: float
                   ) -> dict[str, Any] | None:
    """What becomes of one live session, or None when nothing does."""
    entry: dict[str, Any] = {"id": record.id, "user": record.user, "provider": record.provider}
    ends = session_ends(old, new, record, now)
    if ends is not None:
        return {**entry, "ends": ends, "gains": [], "loses": [], "headers": []}
    groups = frozenset(record.data.get("groups", ()))
    data = record.data
    acr, auth_time = data.get("acr"), data.get("auth_time")
    identity = Identity(record.user, record.provider, groups,
                        acr if isinstance(acr, str) else None,
                        float(auth_time) if isinstance(auth_time, (int, float)) else None)
    apps = access_changes(old, new, identity, identity, now)
    reachable = [app.id for app in new.policy.apps
                 if start_outcomes_one(new, app.id, identity, now) == "allow"
                 and old.policy.app_by_id(app.id) is not None
                 and start_outcomes_one(old, app.id, identity, now) == "allow"]
    headers = []
    for app_id in reachable:
        a, b = sent_headers(old, record, app_id), sent_headers(new, record, app_id)
        if a != b:
            headers.append({"app": app_id,
                            "added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)),
                            "changed": sorted(n for n in set(a) & set(b) if a[n] != b[n])})
    note = provider_note(new, record)
    if not apps and not headers and note is None:
        return None
    return {**entry, "ends": None, "note": note,
            **gains_and_losses(apps), "apps": apps, "headers": headers}


def start_outcomes_one(config: Config, app_id: str, identity: Identity, now: float) -> str:
    app = config.policy.app_by_id(app_id)
    if app is None:
        return "none"
    return config.policy.decide(app, "GET", app.path_prefix, "", identity, now).outcome


def session_ends(old: Config, new: Config, record: SessionRecord, now: float) -> str | None:
    """Why a live session would end as soon as ``new`` is active, or None."""
    before, after = old["session"], new["session"]
    if before["name"] != after["name"]:
        return f"session.name changes to {after['name']!r}: browsers send the old cookie"
    if before["secret_keys"][0] not in after["secret_keys"]:
        return ("the key that signs new cookies leaves session.secret_keys: cookies signed "
                "with it no longer verify")
    if now - record.last_seen >= after["idle_timeout"]:
        return f"idle longer than the new idle_timeout ({after['idle_timeout']:g} s)"
    return None


def provider_note(new: Config, record: SessionRecord) -> str | None:
    if record.provider == EMERGENCY_PROVIDER or record.provider in new.providers:
        return None
    if new["session"]["refresh_tokens"] and record.data.get("tokens"):
        return (f"provider {record.provider!r} is removed: the session ends at its next "
                "token refresh")
    return (f"provider {record.provider!r} is removed: the session works until it ends; "
            "the next sign-in must use another provider")


def header_names(config: Config, app_id: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Attribute → header for ``app_id`` and the app's extra headers' sources, as
    :class:`ssomw.gateway.access.Access` builds them."""
    profile = config["profile"]
    names = {**config["headers"], **{f"profile.{name}": profile_header(name, settings)
                                     for name, settings in profile.items()}}
    app = next((a for a in config["apps"] if a["id"] == app_id), {"headers": {}})
    names.update({f"app:{header}": header for header in app["headers"]})
    sources = [(f"app:{header}", f"profile.{attr}" if attr in profile else attr)
               for header, attr in app["headers"].items()]
    return names, sources


def sent_headers(config: Config, record: SessionRecord, app_id: str) -> Mapping[str, str]:
    """Header → value that a session sends to an app under ``config``."""
    names, sources = header_names(config, app_id)
    attributes = attributes_of(record)
    for extra, source in sources:
        attributes[extra] = attributes.get(source)
    headers, _ = identity_headers(names, attributes)
    return dict(headers)
