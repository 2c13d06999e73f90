"""``POST /config/preview`` (contract §11): who gains or loses access, which live sessions end
or change — computed from the store's known users and sessions, never applied."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ssomw.core.groups import Grant
from ssomw.identity.users import USERS, UserRecord

from .conftest import Gw, config_with

MERGE = "application/merge-patch+json"


def known(gw: Gw, user: str, groups: list[str], provider: str = "idp") -> None:
    """A user the gateway has seen: a stored record as a sign-in leaves it."""
    record = UserRecord(username=user, first_seen=1.0,
                        grants=[Grant(g, "idp", g, ("idp claim value",)) for g in groups],
                        idp_groups=groups, synced_at=1.0, subjects=[[provider, f"sub-{user}"]])
    gw.store.kv_set(USERS, user, record.dumps(), None)


def session(gw: Gw, user: str, groups: list[str], provider: str = "idp") -> str:
    record, _ = gw.runtime.sessions.create(user=user, provider=provider, sub=f"sub-{user}",
                                           sid=None, data={"groups": groups, "email":
                                                           f"{user}@example.com"})
    return record.id


@pytest.fixture
def people(make_gw, tmp_path) -> Gw:
    raw = config_with(tmp_path)
    raw["apps"][1]["allowed_groups"] = ["agents", "contractors"]
    gw = make_gw(raw)
    known(gw, "alice", ["agents", "staff"])
    known(gw, "dave", ["contractors"])
    known(gw, "erin", ["contractors", "agents"])
    known(gw, "carol", ["staff"])
    session(gw, "alice", ["agents", "staff"])
    gw.sessions = {"dave": session(gw, "dave", ["contractors"]),
                   "frank": session(gw, "frank", ["contractors"], provider="emergency")}
    return gw


def apps_with(gw: Gw, **desk: Any) -> list[dict[str, Any]]:
    apps = copy.deepcopy(gw.raw["apps"])
    apps[1].update(desk)
    return apps


def preview(gw: Gw, body: Any, media: str = MERGE, token: str = "reader") -> Any:
    return gw.api("POST", "/config/preview", token, data=json.dumps(body),
                  headers={"Content-Type": media})


def test_removing_a_group_names_exactly_the_users_who_lose_access(people: Gw) -> None:
    before = people.api("GET", "/config/versions").json
    answer = preview(people, {"apps": apps_with(people, allowed_groups=["agents"])})
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert {u["user"] for u in body["users"]} == {"dave", "frank"}
    assert all(u["loses"] == ["desk"] and u["gains"] == [] for u in body["users"])
    dave = next(u for u in body["users"] if u["user"] == "dave")
    assert dave["apps"] == [{"app": "desk", "before": "allow", "after": "passthrough",
                             "reason": dave["apps"][0]["reason"]}]
    assert "allowed_groups: agents" in dave["apps"][0]["reason"]
    assert {s["id"] for s in body["sessions"]} == set(people.sessions.values())
    assert all(s["loses"] == ["desk"] and s["ends"] is None for s in body["sessions"])
    assert body["known_users"] == 5 and body["live_sessions"] == 3
    assert body["changes"] == 1 and body["diff"][0]["path"] == "apps"
    # computed, never applied
    assert people.api("GET", "/config/versions").json == before
    assert people.api("GET", "/config").json["apps"][1]["allowed_groups"] == \
        ["agents", "contractors"]


def test_a_whole_configuration_is_previewed_like_a_put(people: Gw) -> None:
    whole = people.api("GET", "/config").json  # redacted: "***" keeps the secrets
    whole["apps"][1]["sso"] = False
    body = preview(people, whole, media="application/json").json
    gains = {u["user"] for u in body["users"] if u["gains"] == ["desk"]}
    assert gains == {"carol"}  # the door opens for everyone; the others had it already
    alice = next(u for u in body["users"] if u["user"] == "alice")
    assert alice["apps"][0]["after"] == "bypass" and alice["loses"] == []  # no headers now
    assert body["changes"] == 1


def test_group_mapping_changes_show_groups_and_access(people: Gw) -> None:
    body = preview(people, {"groups": {"map": {"staff": ["staff", "agents"]}}}).json
    carol = next(u for u in body["users"] if u["user"] == "carol")
    assert carol["groups"] == {"added": ["agents"], "removed": []}
    assert carol["gains"] == ["desk"]
    assert {u["user"] for u in body["users"]} == {"carol"}  # alice had agents already
    # live sessions keep their groups until the next sign-in or sync: none changes now
    assert body["sessions"] == []


def test_sessions_that_end_and_headers_that_change(people: Gw) -> None:
    rotated = preview(people, {"session": {"secret_keys": ["n" * 40]}}).json
    assert len(rotated["sessions"]) == 3
    assert all("secret_keys" in s["ends"] for s in rotated["sessions"])
    assert rotated["users"] == []
    # the second key may go: cookies are signed with the first
    assert preview(people, {"session": {"secret_keys": ["k" * 40]}}).json["sessions"] == []

    renamed = preview(people, {"headers": {"groups": "X-Team-Groups"}}).json
    alice = next(s for s in renamed["sessions"] if s["user"] == "alice")
    wiki = next(h for h in alice["headers"] if h["app"] == "wiki")
    assert wiki["added"] == ["X-Team-Groups"] and wiki["removed"] == ["X-Auth-Request-Groups"]


def test_a_removed_provider_is_named_for_its_sessions(people: Gw) -> None:
    body = preview(people, {"providers": [people.raw["providers"][0]],
                            "routing": {"rules": [], "default": "idp"}}).json
    assert body["sessions"] == []  # every session is from idp or the emergency login
    session(people, "gina", ["agents"], provider="partner")
    body = preview(people, {"providers": [{**people.raw["providers"][0],
                                           "client_secret": "***"}],
                            "routing": {"rules": [], "default": "idp"}}).json
    [gina] = body["sessions"]
    assert gina["user"] == "gina" and "partner" in gina["note"]


def test_invalid_changes_get_every_error_and_change_nothing(people: Gw) -> None:
    answer = preview(people, {"apps": apps_with(people, denied_action="maybe",
                                                allowed_groups="agents")})
    assert answer.status_code == 422
    paths = {e["path"] for e in answer.json["errors"]}
    assert {"apps[1].denied_action", "apps[1].allowed_groups"} <= paths
    assert preview(people, {"x": 1}, media="text/plain").status_code == 415


def test_preview_needs_config_read(people: Gw) -> None:
    assert preview(people, {}, token="sessions").status_code == 403
    assert preview(people, {}, token=None).status_code == 401
    assert preview(people, {}).json["users"] == []
