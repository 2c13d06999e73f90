"""Backups: redacted and encrypted exports, dry-run imports, and restoring into another store."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from .conftest import Gw, config_with

PASS = {"X-Export-Passphrase": "correct horse battery staple"}
MERGE = {"Content-Type": "application/merge-patch+json"}
URLS = ["https://wiki.example.com/", "https://wiki.example.com/public/a",
        "https://wiki.example.com/docs/x", "https://wiki.example.com/admin/",
        "https://desk.example.com/", "https://unknown.example.com/"]


def export(gw: Gw, mode: str = "redact", token: str = "all", **headers: str):
    return gw.api("GET", f"/config/export?secrets={mode}", token=token, headers=headers)


def import_(gw: Gw, doc: Any, dry_run: bool = False, token: str = "all", **headers: str):
    query = "?dry_run=true" if dry_run else ""
    return gw.api("POST", f"/config/import{query}", token=token, headers=headers, json=doc)


def test_redacted_export_has_no_secrets(gw: Gw):
    response = export(gw, token="reader")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    doc = response.json
    assert (doc["format"], doc["version"], doc["secrets"]) == ("ssomw-config", 1, "redacted")
    assert doc["config"]["providers"][0]["client_secret"] == "***"
    assert "idp-client-secret-value" not in response.get_data(as_text=True)


@pytest.mark.parametrize("token, headers, status, error", [
    pytest.param("writer", PASS, 403, "insufficient_scope", id="needs-config-secrets"),
    pytest.param("all", {}, 400, "passphrase_required", id="needs-passphrase"),
    pytest.param("all", {"X-Export-Passphrase": "short"}, 400, "passphrase_required",
                 id="passphrase-too-short"),
])
def test_encrypted_export_refusals(gw: Gw, token, headers, status, error):
    response = export(gw, "encrypt", token, **headers)
    assert response.status_code == status and response.json["error"] == error


def test_bad_secrets_mode_is_400(gw: Gw):
    assert export(gw, "plain").status_code == 400


def test_encrypted_round_trip_and_wrong_passphrase(make_gw, tmp_path):
    source = make_gw(config_with(tmp_path, "a.db"))
    target_raw = config_with(tmp_path, "b.db")
    target_raw["providers"][0]["client_secret"] = "target-own-secret"
    target = make_gw(target_raw)
    doc = export(source, "encrypt", **PASS).json
    assert doc["secrets"] == "encrypted" and "config" not in doc
    assert "idp-client-secret-value" not in json.dumps(doc)

    missing = import_(target, doc)
    assert missing.status_code == 400 and missing.json["error"] == "passphrase_required"
    wrong = import_(target, doc, **{"X-Export-Passphrase": "not the passphrase"})
    assert wrong.status_code == 400 and wrong.json["error"] == "bad_passphrase"
    assert "wrong passphrase" in wrong.json["message"]
    damaged = {**doc, "encrypted": doc["encrypted"][:-8] + "AAAAAAAA"}
    assert import_(target, damaged, **PASS).json["error"] == "bad_passphrase"
    assert target.etag() == '"1"'

    applied = import_(target, doc, **PASS)
    assert applied.status_code == 200 and applied.json["version"] == 2
    secret = target.api("GET", "/config").json["providers"][0]["client_secret"]
    assert secret == "idp-client-secret-value"  # secrets travel in encrypted backups


def test_redacted_import_keeps_the_targets_secrets(make_gw, tmp_path):
    source = make_gw(config_with(tmp_path, "a.db"))
    target_raw = config_with(tmp_path, "b.db")
    target_raw["providers"][0]["client_secret"] = "target-own-secret"
    target = make_gw(target_raw)
    doc = export(source).json
    doc["config"]["apps"][0]["name"] = "The Wiki"
    response = import_(target, doc)
    assert response.status_code == 200, response.json
    data = target.api("GET", "/config").json
    assert data["providers"][0]["client_secret"] == "target-own-secret"
    assert data["apps"][0]["name"] == "The Wiki"


def test_dry_run_shows_the_diff_and_changes_nothing(gw: Gw):
    doc = export(gw).json
    doc["config"]["apps"][1]["sso"] = False
    doc["config"]["routing"]["default"] = "partner"
    response = import_(gw, doc, dry_run=True, token="reader")
    assert response.status_code == 200
    body = response.json
    assert body["dry_run"] is True and body["version"] == 1
    assert sorted(c["path"] for c in body["diff"]) == ["apps", "routing.default"]
    assert gw.etag() == '"1"'
    assert len(gw.api("GET", "/config/versions").json["versions"]) == 1
    assert import_(gw, doc, token="reader").status_code == 403  # applying needs config:write


def test_unchanged_backup_dry_run_has_an_empty_diff(gw: Gw):
    response = import_(gw, export(gw).json, dry_run=True)
    assert response.json["diff"] == [] and response.json["changes"] == 0


def test_invalid_import_lists_every_error(gw: Gw):
    doc = export(gw).json
    doc["config"]["apps"][0]["hosts"] = []
    doc["config"]["providers"][1]["token_auth"] = "magic"
    for dry_run in (True, False):
        response = import_(gw, doc, dry_run=dry_run)
        assert response.status_code == 422
        assert {e["path"] for e in response.json["errors"]} == {
            "apps[0].hosts", "providers[1].token_auth"}
    assert gw.etag() == '"1"'


@pytest.mark.parametrize("doc, error", [
    pytest.param({"format": "other"}, "bad_request", id="other-format"),
    pytest.param({"format": "ssomw-config", "secrets": "redacted"}, "bad_request",
                 id="no-config"),
    pytest.param({"format": "ssomw-config", "encrypted": "a.b"}, "bad_backup",
                 id="damaged-jwe"),
    pytest.param([1], "bad_request", id="not-an-object"),
])
def test_unreadable_backups_are_400(gw: Gw, doc, error):
    response = import_(gw, doc, **PASS)
    assert response.status_code == 400 and response.json["error"] == error


def decisions(gw: Gw, cookie: str) -> list[tuple[int, int]]:
    return [(gw.auth(url), gw.auth(url, cookie)) for url in URLS]


def session_cookie(gw: Gw) -> str:
    _, cookie = gw.runtime.sessions.create(user="zoe", provider="idp", sub="s", sid=None,
                                           data={"groups": ["agents"]})
    return cookie


def test_export_then_import_into_another_store_reproduces_behaviour(make_gw, tmp_path):
    source = make_gw(config_with(tmp_path, "a.db"))
    change = {"apps": [
        {"id": "wiki", "hosts": ["wiki.example.com"],
         "rules": [{"paths": ["^/docs/"], "policy": "bypass"},
                   {"paths": ["^/admin/"], "policy": "deny"}]},
        {"id": "desk", "hosts": ["desk.example.com"], "allowed_groups": ["leads"]}]}
    response = source.api("PATCH", "/config", headers={**MERGE, "If-Match": source.etag()},
                          data=json.dumps(change))
    assert response.status_code == 200
    source.reload()
    target_raw = copy.deepcopy(config_with(tmp_path, "b.db"))
    target = make_gw(target_raw)
    before = decisions(target, session_cookie(target))
    expected = decisions(source, session_cookie(source))
    assert before != expected

    doc = export(source, "encrypt", **PASS).json
    assert import_(target, doc, **PASS).status_code == 200
    target.reload()
    assert decisions(target, session_cookie(target)) == expected
