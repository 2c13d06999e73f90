"""Sessions, force logout, local groups, explain, audit and directory sync over the API."""

from __future__ import annotations

import json
import time

import pytest

from ssomw.core.groups import Grant
from ssomw.identity.users import UserRecord
from ssomw.telemetry import audit

from .conftest import Gw, config_with


def sign_in(gw: Gw, user: str, groups: list[str], provider: str = "idp") -> tuple[str, str]:
    record, cookie = gw.runtime.sessions.create(
        user=user, provider=provider, sub=f"sub-{user}", sid="idp-sid",
        data={"groups": groups, "email": f"{user}@example.com", "auth_method": "oidc",
              "id_token": "eyJ.secret.token", "refresh_token": "rt-secret"})
    return record.id, cookie


def remember(gw: Gw, user: str, grants: list[Grant]) -> None:
    record = UserRecord(username=user, first_seen=1.0, grants=grants, synced_at=2.0,
                        idp_groups=[g.origin for g in grants if g.source == "idp"])
    gw.store.kv_set("users", user, record.dumps(), None)


def test_sessions_list_never_shows_tokens_or_cookies(gw: Gw):
    sid, cookie = sign_in(gw, "ann", ["staff"])
    sign_in(gw, "bob", [])
    response = gw.api("GET", "/sessions?user=ann", token="sessions")
    assert response.status_code == 200
    [listed] = response.json["sessions"]
    assert listed["id"] == sid and listed["user"] == "ann" and listed["provider"] == "idp"
    assert listed["auth_method"] == "oidc" and listed["expires"] > listed["created"]
    text = response.get_data(as_text=True)
    assert "secret" not in text and cookie not in text and "eyJ" not in text
    assert len(gw.api("GET", "/sessions", token="sessions").json["sessions"]) == 2


def test_delete_one_session(gw: Gw):
    sid, cookie = sign_in(gw, "ann", ["staff"])
    assert gw.auth("https://wiki.example.com/", cookie) == 200
    assert gw.api("DELETE", f"/sessions/{sid}", token="sessions").status_code == 204
    assert gw.auth("https://wiki.example.com/", cookie) == 401
    assert gw.api("DELETE", f"/sessions/{sid}", token="sessions").status_code == 404
    [event] = audit.query(gw.store, event_type="session_revoked")
    assert event["user"] == "ann" and sid not in json.dumps(event)


def test_force_logout_everywhere(gw: Gw):
    cookies = [sign_in(gw, "ann", ["staff"])[1] for _ in range(3)]
    _, other = sign_in(gw, "bob", [])
    assert gw.api("DELETE", "/users/ann/sessions", token="sessions").status_code == 204
    assert [gw.auth("https://wiki.example.com/", c) for c in cookies] == [401] * 3
    assert gw.auth("https://wiki.example.com/", other) == 200
    assert gw.api("DELETE", "/users/ann/sessions", token="sessions").status_code == 404
    [event] = audit.query(gw.store, event_type="user_sessions_revoked")
    assert (event["user"], event["ended"]) == ("ann", 3)


def test_local_groups_put_and_get(gw: Gw):
    remember(gw, "ann", [Grant("staff", "idp", "staff", ("idp:staff",))])
    response = gw.api("PUT", "/users/ann/groups", token="sessions",
                      json={"groups": ["leads", " agents ", "leads"]})
    assert response.status_code == 200 and response.json["local"] == ["agents", "leads"]
    assert response.json["groups"] == ["agents", "leads", "staff"]
    shown = gw.api("GET", "/users/ann/groups", token="sessions").json
    assert shown["local"] == ["agents", "leads"] and shown["known"] is True
    assert [(g["name"], g["source"]) for g in shown["groups"]] == [
        ("agents", "local"), ("leads", "local"), ("staff", "idp")]  # resolved again at once
    assert shown["groups"][2] == {"name": "staff", "source": "idp", "origin": "staff",
                                  "via": ["idp claim value 'staff'"]}
    assert gw.api("PUT", "/users/ann/groups", token="sessions",
                  json={"groups": []}).json["local"] == []
    events = audit.query(gw.store, event_type="local_groups_changed")
    assert [e["groups"] for e in events] == [["agents", "leads"], []]


def test_local_groups_are_in_force_in_live_sessions_at_once(gw: Gw):
    remember(gw, "ann", [Grant("staff", "idp", "staff", ("idp:staff",))])
    _, cookie = sign_in(gw, "ann", ["staff"])
    _, other = sign_in(gw, "bob", ["staff"])
    assert gw.auth("https://wiki.example.com/admin/", cookie) == 403
    put = gw.api("PUT", "/users/ann/groups", token="sessions", json={"groups": ["admins"]})
    assert (put.json["sessions"], put.json["effective"]) == (1, "now")
    assert gw.auth("https://wiki.example.com/admin/", cookie) == 200
    assert gw.auth("https://wiki.example.com/admin/", other) == 403  # only ann's sessions
    gw.api("PUT", "/users/ann/groups", token="sessions", json={"groups": []})
    assert gw.auth("https://wiki.example.com/admin/", cookie) == 403


def test_local_groups_of_a_user_not_seen_yet_wait_for_the_first_sign_in(gw: Gw):
    put = gw.api("PUT", "/users/newbie/groups", token="sessions", json={"groups": ["admins"]})
    assert put.json == {"user": "newbie", "local": ["admins"], "groups": None, "sessions": 0,
                        "effective": "at the user's first sign-in"}


@pytest.mark.parametrize("body", [
    pytest.param({"groups": "admins"}, id="not-a-list"),
    pytest.param({"groups": [1]}, id="not-strings"),
    pytest.param({"groups": [" "]}, id="blank"),
    pytest.param({}, id="missing"),
    pytest.param(["admins"], id="bare-list"),
])
def test_local_groups_bad_bodies_are_422(gw: Gw, body):
    response = gw.api("PUT", "/users/ann/groups", token="sessions", json=body)
    assert response.status_code == 422 and response.json["errors"][0]["path"] == "groups"


def test_unknown_user_groups(gw: Gw):
    shown = gw.api("GET", "/users/nobody/groups", token="sessions").json
    assert shown == {"user": "nobody", "local": [], "known": False, "resolved_at": None,
                     "groups": []}


@pytest.mark.parametrize("url, user, final, app, rule", [
    pytest.param("https://wiki.example.com/public/x", None, "bypass", "wiki", 0, id="bypass"),
    pytest.param("https://wiki.example.com/page", None, "login", "wiki", None, id="anonymous"),
    pytest.param("https://wiki.example.com/page", "ann", "allow", "wiki", None, id="allowed"),
    pytest.param("https://wiki.example.com/admin/", "ann", "deny", "wiki", 1,
                 id="rule-groups"),
    pytest.param("https://wiki.example.com/admin/", "root", "allow", "wiki", 1,
                 id="admin-group"),
    pytest.param("https://desk.example.com/", "ann", "passthrough", "desk", None,
                 id="passthrough"),
    pytest.param("https://nowhere.example.com/", "ann", "deny", None, None, id="no-app"),
])
def test_explain(gw: Gw, url, user, final, app, rule):
    remember(gw, "ann", [Grant("staff", "idp", "staff", ("idp:staff",))])
    remember(gw, "root", [Grant("admins", "local", "", ("local",))])
    query = f"/explain?url={url}" + (f"&user={user}" if user else "")
    response = gw.api("GET", query, token="explainer" if user else "reader")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["final"] == final
    assert (body["app"] or {}).get("id") == app
    if body["decision"]:
        assert body["decision"]["rule"] == rule
        assert [c["matched"] for c in body["rules"]][-1:] in ([], [rule is not None])


def test_explain_shows_groups_sources_and_routing(gw: Gw):
    remember(gw, "ann", [Grant("staff", "idp", "staff", ("idp:staff",)),
                         Grant("admins", "local", "", ("local",))])
    body = gw.api("GET", "/explain?url=https://wiki.example.com/admin/&user=ann"
                         "&email=ann@partner.example").json
    assert body["user"]["groups"] == [
        {"name": "admins", "source": "local", "origin": "", "via": ["local"]},
        {"name": "staff", "source": "idp", "origin": "staff", "via": ["idp:staff"]}]
    assert body["routing"]["provider"] == "partner" and body["routing"]["rule_index"] == 0
    assert body["user"]["provider"] == "partner" and body["user"]["provider_from"] == "routing"
    assert body["rules"][0] == {"index": 0, "matched": False,
                                "reason": "path /admin/ matches none of ^/public/"}


@pytest.mark.parametrize("token, user, status", [
    pytest.param("reader", "ann", 403, id="user-needs-sessions-admin"),
    pytest.param("reader", "", 403, id="empty-user-too"),
    pytest.param("sessions", "ann", 403, id="sessions-admin-alone-is-not-enough"),
    pytest.param("explainer", "ann", 200, id="both-scopes"),
    pytest.param("reader", None, 200, id="without-user-config-read-is-enough"),
])
def test_explain_with_a_user_needs_sessions_admin(gw: Gw, token, user, status):
    """Issue 14, item 9: a user's groups, their sources and session count are user data."""
    remember(gw, "ann", [Grant("staff", "idp", "staff", ("idp:staff",))])
    query = "/explain?url=https://wiki.example.com/page" + \
        (f"&user={user}" if user is not None else "")
    response = gw.api("GET", query, token=token)
    assert response.status_code == status
    if status == 403:
        assert response.json["error"] == "insufficient_scope"
        assert set(response.json) == {"error", "message"}
        scope = "sessions:admin" if token == "reader" else "config:read"
        assert f'scope="{scope}"' in response.headers["WWW-Authenticate"]
        assert "staff" not in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["/explain", "/explain?url=ftp://x/", "/explain?url=x"])
def test_explain_bad_input_is_400(gw: Gw, query):
    assert gw.api("GET", query).status_code == 400


def test_audit_query_by_type_and_time(gw: Gw):
    audit.record(gw.store, "something", detail=1)
    response = gw.api("GET", "/audit?type=something", token="auditor")
    assert [e["detail"] for e in response.json["events"]] == [1]
    later = gw.api("GET", "/audit?since=2999-01-01T00:00:00Z", token="auditor").json
    assert later["events"] == []
    assert gw.api("GET", "/audit?since=yesterday", token="auditor").status_code == 400
    assert gw.api("GET", "/audit?limit=0", token="auditor").status_code == 400


def test_directory_sync_without_directory_is_409(gw: Gw):
    response = gw.api("POST", "/directory/sync")
    assert response.status_code == 409 and response.json["error"] == "no_directory"
    status = gw.api("GET", "/directory/sync/status").json
    assert status == {"configured": False, "running": False, "last_report": None,
                      "last_error": None}


def test_directory_sync_starts_in_the_background(make_gw, tmp_path):
    raw = config_with(tmp_path, directory={"ldap": {"url": "ldap://127.0.0.1:1",
                                                    "user_base": "ou=people,dc=x",
                                                    "timeout": 0.2}})
    gw = make_gw(raw)
    response = gw.api("POST", "/directory/sync")
    assert response.status_code == 202
    assert response.headers["Location"] == "/sso/api/v1/directory/sync/status"
    assert response.json["status_url"] == response.headers["Location"]
    deadline = time.monotonic() + 10
    while (status := gw.api("GET", "/directory/sync/status").json)["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status["configured"] is True
    assert status["last_error"] is not None  # nothing listens on port 1
    assert audit.query(gw.store, event_type="directory_sync_started")


def test_explain_names_the_step_up_requirement(make_gw, tmp_path):
    """Issue 20.1: a rule's max_age/acr appears in explain, and with a user whether their
    newest session meets it."""
    raw = config_with(tmp_path)
    raw["apps"][0]["rules"].append({"paths": ["^/vault/"], "policy": "authenticated",
                                    "max_age": "5m", "acr": ["urn:mfa"]})
    gw = make_gw(raw)
    remember(gw, "ann", [Grant("staff", "idp", "staff", ("idp:staff",))])
    gw.runtime.sessions.create(user="ann", provider="idp", sub="s", sid=None, data={
        "groups": ["staff"], "acr": "urn:pwd", "auth_time": time.time() - 10})
    body = gw.api("GET", "/explain?url=https://wiki.example.com/vault/x&user=ann").json
    assert body["final"] == "login"
    assert body["decision"]["requires"] == {"acr": ["urn:mfa"], "max_age": 300.0}
    assert "rule 2's requirement (acr one of urn:mfa; max_age 300s)" in body["reason"]
    assert "acr urn:pwd is not one of urn:mfa" in body["reason"]
    assert body["rules"][-1]["reason"] == ("matched: policy authenticated; step-up: acr one "
                                           "of urn:mfa; max_age 300s")
    elsewhere = gw.api("GET", "/explain?url=https://wiki.example.com/page&user=ann").json
    assert elsewhere["final"] == "allow" and elsewhere["decision"]["requires"] is None
