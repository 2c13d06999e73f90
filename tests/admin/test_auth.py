"""Who may call the admin API: network, throttling, token, scope — in that order."""

from __future__ import annotations

import pytest

from ssomw.admin.auth import THROTTLE
from ssomw.admin.tokens import Tokens
from ssomw.telemetry import audit

from .conftest import Gw, config_with


@pytest.mark.parametrize("token, address, path, status, error", [
    pytest.param(None, "127.0.0.1", "/config", 401, "unauthorized", id="no-token"),
    pytest.param("ssomw_0123456789abcdef_" + "x" * 43, "127.0.0.1", "/config", 401,
                 "invalid_token", id="unknown-store-token"),
    pytest.param("not-a-token", "127.0.0.1", "/config", 401, "invalid_token", id="bad-token"),
    pytest.param("sessions", "127.0.0.1", "/config", 403, "insufficient_scope",
                 id="missing-scope"),
    pytest.param("reader", "127.0.0.1", "/audit", 403, "insufficient_scope",
                 id="reader-cannot-read-audit"),
    pytest.param("all", "198.51.100.7", "/config", 403, "forbidden_network",
                 id="outside-allow-from"),
    pytest.param(None, "198.51.100.7", "/config", 403, "forbidden_network",
                 id="outside-allow-from-before-401"),
    pytest.param("all", "192.0.2.44", "/config", 200, None, id="allowed-network"),
    pytest.param("reader", "127.0.0.1", "/config", 200, None, id="scope-present"),
])
def test_auth_table(gw: Gw, token, address, path, status, error):
    response = gw.api("GET", path, token=token, address=address)
    assert response.status_code == status
    assert response.content_type == "application/json"
    if error:
        assert response.json["error"] == error
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_insufficient_scope_names_the_scope(gw: Gw):
    response = gw.api("PATCH", "/config", token="reader")
    assert response.status_code == 403
    assert 'scope="config:write"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("path", ["/schema", "/openapi.json"])
def test_schema_and_openapi_are_public(gw: Gw, path: str):
    response = gw.api("GET", path, token=None, address="198.51.100.7")
    assert response.status_code == 200
    assert response.json["$schema" if path == "/schema" else "openapi"]


def test_wrong_tokens_are_audited_and_throttled_per_address(gw: Gw):
    for _ in range(THROTTLE.max_failures):
        assert gw.api("GET", "/config", token="guess", address="127.0.0.9").status_code == 401
    # Locked out: even the right token is refused, without being checked.
    locked = gw.api("GET", "/config", token="all", address="127.0.0.9")
    assert locked.status_code == 429 and locked.headers["Retry-After"]
    # Other addresses are unaffected.
    assert gw.api("GET", "/config", token="all", address="127.0.0.10").status_code == 200
    failures = audit.query(gw.store, event_type="admin_auth_failure")
    assert len(failures) == THROTTLE.max_failures
    assert failures[0]["client_ip"] == "127.0.0.9" and "guess" not in str(failures)


def test_missing_token_is_not_an_attempt(gw: Gw):
    for _ in range(THROTTLE.max_failures + 2):
        assert gw.api("GET", "/config", token=None).status_code == 401
    assert gw.api("GET", "/config").status_code == 200
    assert audit.query(gw.store, event_type="admin_auth_failure") == []


def test_token_use_is_audited_once_a_minute(gw: Gw):
    for _ in range(3):
        assert gw.api("GET", "/config", token="reader").status_code == 200
    used = audit.query(gw.store, event_type="admin_token_used")
    assert [(e["name"], e["method"], e["path"]) for e in used] == [
        ("reader", "GET", "/sso/api/v1/config")]


def test_store_tokens_work_until_revoked(gw: Gw):
    tokens = Tokens(gw.store, gw.runtime.config["admin"]["tokens"])
    token, record = tokens.create("deploy-bot", ["config:read"])
    assert token.startswith("ssomw_") and "hash" not in record
    assert token not in str(gw.store.kv_items("admin-tokens"))  # only the hash is kept
    assert gw.api("GET", "/config", token=token).status_code == 200
    assert gw.api("GET", "/sessions", token=token).status_code == 403
    listed = {t["name"]: t for t in tokens.list()}
    assert listed["deploy-bot"]["last_used"] is not None
    assert listed["deploy-bot"]["source"] == "store" and listed["all"]["source"] == "config"
    assert tokens.revoke("deploy-bot")
    assert gw.api("GET", "/config", token=token).status_code == 401
    # The same secret with another id, or the id with another secret, never matches.
    _, _, secret = token.split("_", 2)
    assert gw.api("GET", "/config", token=f"ssomw_{'0' * 16}_{secret}").status_code == 401


@pytest.mark.parametrize("name, scopes, message", [
    pytest.param("bad name", ["config:read"], "token name", id="bad-name"),
    pytest.param("x", ["config:root"], "unknown scope", id="unknown-scope"),
    pytest.param("x", [], "at least one scope", id="no-scope"),
    pytest.param("all", ["config:read"], "config file already", id="clash-with-config"),
])
def test_token_creation_is_checked(gw: Gw, name, scopes, message):
    tokens = Tokens(gw.store, gw.runtime.config["admin"]["tokens"])
    with pytest.raises(ValueError, match=message):
        tokens.create(name, scopes)


@pytest.mark.parametrize("address, status", [
    pytest.param("127.0.0.1", 200, id="127.0.0.1"), pytest.param("127.8.9.10", 200, id="127/8"),
    pytest.param("::1", 200, id="::1"), pytest.param("10.0.0.1", 403, id="private"),
    pytest.param("::ffff:10.0.0.1", 403, id="mapped-private"),
])
def test_default_allow_from_is_the_loopback_ranges(make_gw, tmp_path, address, status):
    """Without ``admin.allow_from``: 127.0.0.0/8 and ::1/128, exactly as the README says."""
    raw = config_with(tmp_path)
    raw["admin"] = {k: v for k, v in raw["admin"].items() if k != "allow_from"}
    assert make_gw(raw).api("GET", "/config", address=address).status_code == status
