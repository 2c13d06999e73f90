"""Directory sync applied to users and their live sessions (ssomw/identity/users.py,
housekeeping)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ssomw.config import from_text
from ssomw.gateway.housekeeping import sync_round
from ssomw.gateway.runtime import Runtime
from ssomw.identity.users import load_user, set_local_groups
from tests.support.slapd import Slapd, directory_settings


def runtime(tmp_path: Path, slapd: Slapd) -> Runtime:
    return Runtime.build(from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40]},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "c",
                       "client_secret": "s"}],
        "apps": [{"id": "a", "hosts": ["a.example.com"]}],
        "directory": {"ldap": directory_settings(slapd)},
        "groups": {"map": {"engineering": ["developers"]}, "protected": ["sso-admins"]},
        "profile": {"department": {"ldap": "departmentNumber"}},
    })))


def test_scheduled_sync_updates_users_and_their_live_sessions(tmp_path: Path, slapd: Slapd):
    rt = runtime(tmp_path, slapd)
    live, _ = rt.sessions.create(user="alice", provider="idp", sub="a", sid=None,
                                 data={"groups": ["stale"], "profile": {}})
    gone, _ = rt.sessions.create(user="alice", provider="idp", sub="a", sid=None, data={})
    rt.sessions.end(gone.id)
    set_local_groups(rt.store, "alice", ["wiki-editors"])
    sync_round(rt)
    record = load_user(rt.store, "alice")
    assert record is not None
    assert {g.name: g.source for g in record.grants} == {
        "developers": "ldap", "staff": "ldap", "wiki-editors": "local"}
    session = rt.store.get_session(live.id)
    assert session.data["groups"] == ["developers", "staff", "wiki-editors"]
    assert session.data["profile"] == {"department": "42"}
    assert rt.store.get_session(gone.id) is None  # a logged-out session stays logged out
    assert load_user(rt.store, "root-admin") is not None  # every directory user is synced


def test_second_instance_skips_a_sync_already_running(tmp_path: Path, slapd: Slapd):
    first, second = runtime(tmp_path, slapd), runtime(tmp_path, slapd)
    assert first.store.kv_add("lock", "directory-sync", b"other-run", 60)
    sync_round(second)  # skipped: no users written
    assert load_user(second.store, "alice") is None


def test_sign_in_looks_up_the_directory_only_by_what_the_provider_vouches_for(
        tmp_path: Path, slapd: Slapd):
    """By username only when the provider is authoritative for names; by e-mail only when the
    address is trusted. alice's directory groups must not reach a look-alike."""
    from ssomw.core.claims import ClaimRules, signed_in

    rt = runtime(tmp_path, slapd)

    def groups_for(settings: dict, claims: dict) -> list[str]:
        who = signed_in(ClaimRules.from_settings("idp", settings), claims)
        assert who is not None
        return rt.identities.at_sign_in(who, "idp", claims)[0]

    trusted = groups_for({"authoritative": ["username"]},
                         {"sub": "a1", "preferred_username": "alice"})
    assert "developers" in trusted
    assert groups_for({}, {"sub": "x1", "preferred_username": "alice"}) == []
    assert groups_for({}, {"sub": "x2", "preferred_username": "zz",
                           "email": "alice@example.com", "email_verified": False}) == []
    by_mail = groups_for({}, {"sub": "x3", "email": "alice@example.com",
                              "email_verified": True})
    assert "developers" in by_mail
