"""GET/PUT/PATCH /config, versions and rollback: concurrency, validation, redaction, history."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ssomw.telemetry import audit

from .conftest import Gw, config_with

MERGE = {"Content-Type": "application/merge-patch+json"}
WIKI_OPEN = {"apps": [{"id": "wiki", "hosts": ["wiki.example.com"], "sso": False}]}


def patch(gw: Gw, body: Any, token: str = "all", **headers: str):
    sent = {**MERGE, "If-Match": gw.etag(), **headers}
    return gw.api("PATCH", "/config", token=token, headers=sent, data=json.dumps(body))


def put(gw: Gw, body: Any, etag: str | None = None, token: str = "all"):
    headers = {"If-Match": etag or gw.etag()}
    return gw.api("PUT", "/config", token=token, headers=headers, json=body)


def test_get_config_redacts_secrets_and_names_the_version(gw: Gw):
    response = gw.api("GET", "/config", token="reader")
    assert response.headers["ETag"] == '"1"'
    data = response.json
    assert data["providers"][0]["client_secret"] == "***"
    assert data["session"]["secret_keys"] == ["***", "***"]
    assert {t["hash"] for t in data["admin"]["tokens"]} == {"***"}
    assert "idp-client-secret-value" not in response.get_data(as_text=True)
    assert data["apps"] == gw.raw["apps"]  # everything else as written


def test_config_secrets_scope_sees_secrets(gw: Gw):
    data = gw.api("GET", "/config", token="all").json
    assert data["providers"][0]["client_secret"] == "idp-client-secret-value"


def test_merge_patch_changes_behaviour(gw: Gw):
    assert gw.auth("https://wiki.example.com/page") == 401
    response = patch(gw, WIKI_OPEN)
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == '"2"' and response.json["version"] == 2
    gw.reload()
    assert gw.auth("https://wiki.example.com/page") == 200
    assert gw.api("GET", "/config").json["apps"] == WIKI_OPEN["apps"]


def test_merge_patch_null_removes_a_key(gw: Gw):
    assert patch(gw, {"routing": None}).status_code == 200
    assert "routing" not in gw.api("GET", "/config").json


def test_merge_patch_needs_its_media_type(gw: Gw):
    response = gw.api("PATCH", "/config", headers={"If-Match": gw.etag()}, json=WIKI_OPEN)
    assert response.status_code == 415


@pytest.mark.parametrize("if_match, status", [
    pytest.param(None, 428, id="missing-428"),
    pytest.param('"0"', 412, id="stale-412"),
    pytest.param('W/"1"', 412, id="weak-never-matches"),
    pytest.param("garbage", 412, id="garbage-412"),
    pytest.param('"1"', 200, id="current"),
    pytest.param('"7", "1"', 200, id="one-of-several"),
    pytest.param("*", 200, id="star"),
])
def test_if_match_is_required_and_checked(gw: Gw, if_match, status):
    headers = {**MERGE, **({"If-Match": if_match} if if_match else {})}
    response = gw.api("PATCH", "/config", headers=headers, data=json.dumps(WIKI_OPEN))
    assert response.status_code == status, response.json
    if status == 412:
        assert response.headers["ETag"] == '"1"'
        assert gw.api("GET", "/config").headers["ETag"] == '"1"'


def test_lost_update_is_refused(gw: Gw):
    etag = gw.etag()
    assert put(gw, {**gw.api("GET", "/config").json, **WIKI_OPEN}, etag).status_code == 200
    second = put(gw, gw.raw, etag)
    assert second.status_code == 412 and second.json["error"] == "version_conflict"


def test_invalid_config_lists_every_error_and_changes_nothing(gw: Gw):
    body = gw.api("GET", "/config").json
    body["providers"][0]["issuer"] = "not a url"
    body["apps"][1]["denied_action"] = "maybe"
    body["session"]["secret_keys"] = ["too-short-secret"]
    body["unknown_section"] = {}
    response = put(gw, body)
    assert response.status_code == 422
    paths = {e["path"] for e in response.json["errors"]}
    assert {"providers[0].issuer", "apps[1].denied_action", "session.secret_keys[0]",
            "unknown_section"} <= paths, paths
    assert "too-short-secret" not in response.get_data(as_text=True)  # scrubbed
    assert gw.etag() == '"1"' and len(gw.api("GET", "/config/versions").json["versions"]) == 1


def test_put_answers_every_kind_of_error_at_once(gw: Gw):
    """Issue 16.13: a bad regex, an unknown key, a wrong type and an unknown provider."""
    body = gw.api("GET", "/config").json
    body["session"]["idle_timout"] = "30m"
    body["session"]["secure"] = "yes"
    body["apps"][0]["rules"][0]["paths"] = ["(["]
    body["apps"][1]["providers"] = ["nope"]
    response = put(gw, body)
    assert response.status_code == 422
    assert [e["path"] for e in response.json["errors"]] == [
        "apps[0].rules[0].paths[0]", "apps[1].providers[0]", "session.idle_timout",
        "session.secure"], response.json
    assert gw.etag() == '"1"'


def test_import_of_a_provider_without_its_secret_is_422(gw: Gw):
    """Issue 16.4: the sign-in would fail at the token endpoint; refuse it here."""
    doc = gw.api("GET", "/config/export").json
    doc["config"]["providers"].append({"id": "new", "issuer": "https://new.example.com",
                                      "client_id": "c", "token_auth": "client_secret_post"})
    response = gw.api("POST", "/config/import", json=doc)
    assert response.status_code == 422
    [error] = response.json["errors"]
    assert error["path"] == "providers[2].client_secret"
    assert "is required with token_auth: client_secret_post" in error["message"]


@pytest.mark.parametrize("body", [
    pytest.param([1, 2], id="array"), pytest.param("text", id="string"),
    pytest.param({"apps": "x"}, id="partial-wrong-type"),
])
def test_put_of_a_non_config_is_422(gw: Gw, body):
    response = put(gw, body)
    assert response.status_code == 422 and response.json["errors"]


def test_malformed_json_is_400(gw: Gw):
    response = gw.api("PUT", "/config", headers={"If-Match": gw.etag()},
                      data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.json["error"] == "bad_request"


def test_redacted_round_trip_keeps_secrets(gw: Gw):
    edited = gw.api("GET", "/config", token="writer").json
    edited["apps"][1]["allowed_groups"] = ["agents", "leads"]
    response = put(gw, edited, token="writer")
    assert response.status_code == 200, response.json
    stored = gw.api("GET", "/config", token="all").json
    assert stored["providers"][0]["client_secret"] == "idp-client-secret-value"
    assert stored["session"]["secret_keys"] == gw.raw["session"]["secret_keys"]
    assert stored["admin"]["tokens"] == gw.raw["admin"]["tokens"]
    assert [c["path"] for c in response.json["diff"]] == ["apps"]


def test_redacted_value_without_a_current_one_is_an_error(gw: Gw):
    body = gw.api("GET", "/config", token="writer").json
    body["providers"].append({"id": "new", "issuer": "https://new.example.com",
                              "client_id": "c", "client_secret": "***"})
    response = put(gw, body, token="writer")
    assert response.status_code == 422
    assert [e["path"] for e in response.json["errors"]] == ["providers[2].client_secret"]


def test_change_is_audited_with_secrets_redacted(gw: Gw):
    body = gw.api("GET", "/config").json
    body["providers"][0]["client_secret"] = "brand-new-secret-value"
    assert put(gw, body).status_code == 200
    events = audit.query(gw.store, event_type="config_changed")
    assert len(events) == 1 and events[0]["author"] == "token:all"
    [change] = events[0]["diff"]
    assert change["path"] == "providers" and change["to"][0]["client_secret"] == "***"
    assert "brand-new-secret-value" not in json.dumps(events)
    assert "idp-client-secret-value" not in json.dumps(events)


def test_versions_history_and_one_version(gw: Gw):
    assert patch(gw, WIKI_OPEN, **{"X-Change-Comment": "open the wiki"}).status_code == 200
    history = gw.api("GET", "/config/versions", token="reader").json
    assert history["active"] == 2
    assert [(v["number"], v["comment"]) for v in history["versions"]] == [
        (1, "seeded from the file"), (2, "open the wiki")]
    one = gw.api("GET", "/config/versions/1", token="reader").json
    assert one["data"]["providers"][0]["client_secret"] == "***"
    assert gw.api("GET", "/config/versions/9").status_code == 404
    assert gw.api("GET", "/config/versions/abc").status_code == 404


def test_rollback_restores_behaviour_as_a_new_version(gw: Gw):
    assert patch(gw, WIKI_OPEN).status_code == 200
    gw.reload()
    assert gw.auth("https://wiki.example.com/page") == 200
    response = gw.api("POST", "/config/rollback/1", token="writer")
    assert response.status_code == 200 and response.json["version"] == 3
    gw.reload()
    assert gw.auth("https://wiki.example.com/page") == 401
    assert gw.api("POST", "/config/rollback/42").status_code == 404
    assert gw.api("POST", "/config/rollback/1", token="reader").status_code == 403


def test_file_source_refuses_writes(make_gw, tmp_path):
    raw = config_with(tmp_path)
    raw["admin"] = {**raw["admin"], "config_source": "file"}
    gw = make_gw(raw)
    current = gw.api("GET", "/config")
    assert current.status_code == 200 and "ETag" not in current.headers
    for method, path, kwargs in [
        ("PUT", "/config", {"json": raw}),
        ("PATCH", "/config", {"data": "{}", "headers": MERGE}),
        ("POST", "/config/import", {"json": raw}),
        ("POST", "/config/rollback/1", {}),
    ]:
        response = gw.api(method, path, **kwargs)
        assert response.status_code == 409, (path, response.json)
        assert response.json["error"] == "config_source_file"


def test_change_reaches_the_serving_stack_within_two_seconds(gw: Gw):
    assert gw.auth("https://wiki.example.com/page") == 401  # starts the watcher
    assert patch(gw, WIKI_OPEN).status_code == 200
    deadline = time.monotonic() + 2.0
    while gw.auth("https://wiki.example.com/page") != 200:
        assert time.monotonic() < deadline, "not in force within 2 s"
        time.sleep(0.05)


@pytest.mark.parametrize("method, path, allow", [
    pytest.param("DELETE", "/config", "GET, PUT, PATCH", id="config"),
    pytest.param("GET", "/config/import", "POST", id="import"),
])
def test_wrong_method_is_405_json(gw: Gw, method, path, allow):
    response = gw.api(method, path)
    assert response.status_code == 405 and response.headers["Allow"] == allow
    assert response.json["error"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/", "/nothing/here", "/config/versions/-1", "/config/x/y"])
def test_unknown_endpoints_are_json_404(gw: Gw, path: str):
    response = gw.api("GET", path)
    assert response.status_code == 404 and response.json["error"] == "not_found"
