"""Credentials inside URL-valued settings never leave through the admin API, and come back.

The store and directory URLs and a provider endpoint carry passwords; GET /config, redacted
exports, versions, diffs, audit events and validation errors must not show them, and a PUT,
PATCH or import of the redacted document keeps them (issue 14, item 3).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ssomw.admin.export import decrypt
from ssomw.cli.config import config
from ssomw.telemetry import audit

from .conftest import Gw, config_with

REDIS_PW = "redis-url-pw-5678"
LDAP_PW = "ldap-url-pw-1234"
KEY_PW = "query-api-key-9999"
SECRETS = (REDIS_PW, LDAP_PW, KEY_PW)
MERGE = {"Content-Type": "application/merge-patch+json"}
PASS = {"X-Export-Passphrase": "correct horse battery staple"}


@pytest.fixture
def gw(make_gw, tmp_path: Path) -> Gw:
    raw = config_with(tmp_path)
    raw["store"]["url"] = f"redis://:{REDIS_PW}@cache.example:6379/0"
    raw["directory"] = {"ldap": {
        "url": [f"ldap://cn=svc:{LDAP_PW}@127.0.0.1:1", "ldaps://dir.example"],
        "user_base": "ou=people,dc=example", "sync_on_sign_in": False}}
    raw["providers"][1]["userinfo_endpoint"] = f"https://partner.example.com/me?api_key={KEY_PW}"
    return make_gw(raw)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def stored(gw: Gw) -> dict[str, Any]:
    return gw.api("GET", "/config", token="all").json


def send(gw: Gw, method: str, body: Any, token: str = "writer"):
    headers = {"If-Match": gw.etag(), **(MERGE if method == "PATCH" else {})}
    return gw.api(method, "/config", token=token, headers=headers, data=json.dumps(body),
                  content_type=headers.get("Content-Type", "application/json"))


def test_get_config_shows_urls_without_credentials(gw: Gw):
    response = gw.api("GET", "/config", token="reader")
    assert leaks(response.get_data(as_text=True)) == []
    body = response.json
    assert body["store"]["url"] == "redis://:***@cache.example:6379/0"
    assert body["directory"]["ldap"]["url"] == ["ldap://cn=svc:***@127.0.0.1:1",
                                                "ldaps://dir.example"]
    assert body["providers"][1]["userinfo_endpoint"] == \
        "https://partner.example.com/me?api_key=***"
    # config:secrets sees them as written.
    assert stored(gw)["store"]["url"] == gw.raw["store"]["url"]


def test_redacted_export_hides_and_encrypted_export_keeps_them(gw: Gw):
    redacted = gw.api("GET", "/config/export?secrets=redact", token="reader")
    assert redacted.status_code == 200 and leaks(redacted.get_data(as_text=True)) == []
    encrypted = gw.api("GET", "/config/export?secrets=encrypt", headers=PASS).json
    data = decrypt(encrypted["encrypted"], PASS["X-Export-Passphrase"])
    assert data["store"]["url"] == gw.raw["store"]["url"]
    assert data["directory"]["ldap"]["url"] == gw.raw["directory"]["ldap"]["url"]


def test_put_of_the_redacted_document_keeps_every_credential(gw: Gw):
    body = gw.api("GET", "/config", token="writer").json
    body["apps"][1]["allowed_groups"] = ["agents", "leads"]
    response = send(gw, "PUT", body)
    assert response.status_code == 200, response.json
    assert [c["path"] for c in response.json["diff"]] == ["apps"]
    after = stored(gw)
    assert after["store"]["url"] == gw.raw["store"]["url"]
    assert after["directory"]["ldap"]["url"] == gw.raw["directory"]["ldap"]["url"]
    assert after["providers"][1]["userinfo_endpoint"] == \
        gw.raw["providers"][1]["userinfo_endpoint"]


def test_patch_moving_the_host_keeps_the_password(gw: Gw):
    response = send(gw, "PATCH", {"store": {"url": "redis://:***@cache2.example:6380/1"}})
    assert response.status_code == 200, response.json
    assert stored(gw)["store"]["url"] == f"redis://:{REDIS_PW}@cache2.example:6380/1"
    assert leaks(response.get_data(as_text=True)) == []


def test_redacted_import_keeps_the_credentials(gw: Gw):
    doc = gw.api("GET", "/config/export?secrets=redact", token="reader").json
    doc["config"]["apps"][0]["sso"] = False
    response = gw.api("POST", "/config/import", token="writer", json=doc)
    assert response.status_code == 200, response.json
    assert stored(gw)["store"]["url"] == gw.raw["store"]["url"]


def test_a_redacted_password_with_nothing_to_keep_is_an_error(gw: Gw):
    body = gw.api("GET", "/config", token="writer").json
    body["directory"]["ldap"]["url"].append("ldap://cn=x:***@third.example")
    response = send(gw, "PUT", body)
    assert response.status_code == 422
    assert [e["path"] for e in response.json["errors"]] == ["directory.ldap.url[2]"]


def test_versions_diffs_and_audit_never_show_them(gw: Gw):
    new = "redis://:brand-new-redis-pw@cache.example:6379/0"
    assert send(gw, "PATCH", {"store": {"url": new}}, token="all").status_code == 200
    texts = [gw.api("GET", "/config/versions", token="reader").get_data(as_text=True)]
    for number in (1, 2):
        texts.append(gw.api("GET", f"/config/versions/{number}", token="reader")
                     .get_data(as_text=True))
    texts.append(json.dumps(audit.query(gw.store, event_type="config_changed")))
    for text in texts:
        assert leaks(text) == [] and "brand-new-redis-pw" not in text
    [event] = audit.query(gw.store, event_type="config_changed")
    assert event["diff"] == [{"op": "change", "path": "store.url",
                              "from": "redis://:***@cache.example:6379/0",
                              "to": "redis://:***@cache.example:6379/0"}]


def test_validation_errors_do_not_quote_the_password(gw: Gw):
    body = gw.api("GET", "/config", token="all").json
    body["store"]["url"] = f"http://:{REDIS_PW}@cache.example"
    response = send(gw, "PUT", body, token="all")
    assert response.status_code == 422
    [error] = response.json["errors"]
    assert error["path"] == "store.url" and "***" in error["message"]
    assert leaks(response.get_data(as_text=True)) == []


def test_cli_export_hides_them(gw: Gw, tmp_path: Path):
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump(gw.raw))
    result = CliRunner().invoke(config, ["export", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert leaks(result.output) == []
    assert json.loads(result.stdout)["config"]["store"]["url"] == \
        "redis://:***@cache.example:6379/0"
