"""Local groups are in force at once (issue 16 item 9): ``Identities.assign_local`` resolves the
user's groups again through the pipeline, from what the provider and the directory said last,
and rewrites the live sessions — without asking either, and without reviving an ended one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.identity.users import load_user, local_groups


def runtime(tmp_path: Path, groups: dict[str, Any] | None = None) -> Runtime:
    return Runtime.build(from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40]},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "c",
                       "client_secret": "s"}],
        "apps": [{"id": "a", "hosts": ["a.example.com"]}],
        "groups": {"map": {"eng": ["developers"]}, **(groups or {})},
    })))


def signed_in(rt: Runtime, user: str, idp_groups: list[str], provider: str = "idp") -> str:
    """A sign-in as the gateway makes it: the record resolved, then a session with its groups."""
    if provider == "idp":
        rt.identities._resolve(user, None, idp_groups, None, {})
        groups = [g.name for g in load_user(rt.store, user).grants]
    else:  # an emergency login saves no record
        groups = idp_groups
    record, _ = rt.sessions.create(user=user, provider=provider, sub=user, sid=None,
                                   data={"groups": groups, "profile": {}})
    return record.id


def groups_of(rt: Runtime, session_id: str) -> list[str] | None:
    record = rt.store.get_session(session_id)
    return None if record is None else sorted(record.data["groups"])


def test_added_and_removed_local_groups_reach_every_live_session(tmp_path: Path):
    rt = runtime(tmp_path)
    laptop, phone = signed_in(rt, "ann", ["eng"]), signed_in(rt, "ann", ["eng"])
    bob = signed_in(rt, "bob", ["eng"])
    change = rt.identities.assign_local("ann", ["jira-admins"])
    assert (change.local, change.groups, change.sessions) == (
        ["jira-admins"], ["developers", "jira-admins"], 2)
    assert groups_of(rt, laptop) == groups_of(rt, phone) == ["developers", "jira-admins"]
    assert groups_of(rt, bob) == ["developers"]
    assert rt.identities.assign_local("ann", []).groups == ["developers"]
    assert groups_of(rt, laptop) == ["developers"]
    assert local_groups(rt.store, "ann") == []


def test_an_ended_session_stays_ended(tmp_path: Path):
    rt = runtime(tmp_path)
    session = signed_in(rt, "ann", ["eng"])
    rt.store.delete_session(session)
    assert rt.identities.assign_local("ann", ["x"]).sessions == 0
    assert rt.store.get_session(session) is None


def test_a_user_not_seen_yet_gets_them_at_the_first_sign_in(tmp_path: Path):
    rt = runtime(tmp_path)
    change = rt.identities.assign_local("newbie", ["x", " x ", ""])
    assert (change.local, change.groups, change.sessions) == (["x"], None, 0)
    assert load_user(rt.store, "newbie") is None


def test_emergency_only_sessions_get_the_change_itself(tmp_path: Path):
    rt = runtime(tmp_path)
    rt.identities.assign_local("admin", ["sso-admins", "ops"])
    session = signed_in(rt, "admin", ["sso-admins", "ops", "from-ldap"], provider="emergency")
    change = rt.identities.assign_local("admin", ["sso-admins", "auditors"])
    assert (change.groups, change.sessions) == (None, 1)
    assert groups_of(rt, session) == ["auditors", "from-ldap", "sso-admins"]


@pytest.mark.parametrize("groups, expected", [
    pytest.param({"keep_local": False}, ["developers"], id="keep-local-off"),
    pytest.param({"sources": ["idp", "ldap"]}, ["developers"], id="local-not-a-source"),
    pytest.param({"update_existing": False}, ["developers"], id="known-users-untouched"),
])
def test_the_pipelines_rules_still_apply(tmp_path: Path, groups, expected):
    rt = runtime(tmp_path, groups)
    session = signed_in(rt, "ann", ["eng"])
    assert rt.identities.assign_local("ann", ["jira-admins"]).groups == expected
    assert groups_of(rt, session) == expected
