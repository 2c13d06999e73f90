"""``POST /sso/callback`` (response_mode=form_post) parks only what a pending flow earned.

Issue 14, item 10: anyone can POST there, so a POST is parked only for a ``state`` that
``begin()`` recorded for a form_post provider (once), with capped fields, and at most
FORM_POST_LIMIT times a minute per client address; every refusal is a 400 (429 for the rate)
that leaves the store exactly as it was. The real Flask app over a SQLite store; the
provider's endpoints are answered by a stub transport (nothing here reaches the token step).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from requests.adapters import BaseAdapter
from werkzeug.test import Client

import ssomw.views.login as login
from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.oidc.flow import FORM_POST_MAX_PARKED, FORM_POST_PARKED, FORM_POST_PENDING, form_post_key
from ssomw.wsgi import Gateway

BASE = "http://app.example.com"
GOOD = {"code": "c" * 64, "iss": "https://posting.example.com"}


class Reachable(BaseAdapter):
    """Every provider URL answers 200 (the reachability probe before a redirect)."""

    def send(self, request, **kwargs):  # noqa: ANN001 - requests' adapter signature
        response = requests.Response()
        response.status_code, response._content = 200, b'{"keys": []}'
        response.url, response.request = request.url, request
        return response

    def close(self) -> None:
        pass


def provider(pid: str, **extra: Any) -> dict[str, Any]:
    issuer = f"https://{pid}.example.com"
    return {"id": pid, "issuer": issuer, "client_id": "gw", "client_secret": "x",
            "authorization_endpoint": f"{issuer}/auth", "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks", **extra}


@pytest.fixture
def gw(tmp_path: Path) -> tuple[Client, Runtime, Path]:
    db = tmp_path / "s.db"
    config = from_text(yaml.safe_dump({
        "store": {"path": str(db)},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [provider("posting", response_mode="form_post"), provider("plain")],
        "routing": {"default": "posting"},
        "apps": [{"id": "app", "hosts": ["app.example.com"]}],
    }))
    runtime = Runtime.build(config)
    for pid in ("posting", "plain"):
        runtime.providers.get(pid).http.mount(f"https://{pid}.example.com", Reachable())
    return Client(Gateway(config, runtime)), runtime, db


def begin(client: Client, idp: str = "posting") -> str:
    response = client.get(f"/sso/login?rd=/after&idp={idp}", base_url=BASE)
    assert response.status_code == 302, response.get_data(as_text=True)
    return parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]


def post(client: Client, fields: dict[str, Any], address: str = "192.0.2.10", **kwargs: Any):
    return client.post("/sso/callback", data=fields, base_url=BASE,
                       environ_base={"REMOTE_ADDR": address}, **kwargs)


def rows(db: Path) -> set[tuple[Any, ...]]:
    """Everything in the store, to show a refusal wrote nothing."""
    with sqlite3.connect(db) as conn:
        return set(conn.execute("SELECT namespace, key, value FROM kv")) | \
            set(conn.execute("SELECT id, user FROM sessions"))


def parked(db: Path) -> list[bytes]:
    with sqlite3.connect(db) as conn:
        return [v for (v,) in conn.execute("SELECT value FROM kv WHERE namespace = ?",
                                           (FORM_POST_PARKED,))]


def test_pending_state_is_parked_once_then_resumed(gw):
    client, runtime, db = gw
    state = begin(client)
    assert runtime.store.kv_get(FORM_POST_PENDING, form_post_key(state)) == b"posting"
    assert runtime.store.kv_get(login.FORM_POST_PENDING, state) is None  # keyed by a hash
    response = post(client, {**GOOD, "state": state})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sso/callback?resume=")
    assert len(parked(db)) == 1 and b"state=" + state.encode() in parked(db)[0]
    assert runtime.store.kv_get(FORM_POST_PENDING, form_post_key(state)) is None
    # The same state again: consumed, refused, nothing more parked.
    before = rows(db)
    again = post(client, {**GOOD, "state": state})
    assert again.status_code == 400 and rows(db) == before


@pytest.mark.parametrize("fields", [
    pytest.param({**GOOD, "state": "forged-state"}, id="unknown-state"),
    pytest.param({"code": "x" * 4096, "state": "y" * 20_000}, id="huge-unknown-state"),
    pytest.param({**GOOD}, id="no-state"),
    pytest.param({"state": ""}, id="empty-state"),
    pytest.param({}, id="empty-body"),
])
def test_anonymous_posts_are_refused_and_write_nothing(gw, fields):
    client, _, db = gw
    before = rows(db)
    response = post(client, fields)
    assert response.status_code == 400
    assert "text/html" in response.content_type
    assert rows(db) == before and parked(db) == []


@pytest.mark.parametrize("change", [
    pytest.param({"code": "c" * 2049}, id="code-over-2k"),
    pytest.param({"iss": "i" * 2049}, id="iss-over-2k"),
    pytest.param({"error": "e" * 257}, id="error-over-256"),
    pytest.param({"error_description": "d" * 513}, id="description-over-512"),
    pytest.param({"code": "caf\u00e9"}, id="not-ascii"),
    pytest.param({"error_description": "line\nbreak"}, id="control-character"),
    pytest.param({"code": ["a", "b"]}, id="repeated-field"),
    pytest.param({"code": "/" * 2048, "iss": "/" * 2048}, id="too-large-together-encoded"),
])
def test_oversized_or_odd_fields_are_refused_and_keep_the_flow(gw, change):
    client, runtime, db = gw
    state = begin(client)
    before = rows(db)
    response = post(client, {**GOOD, "state": state, **change})
    assert response.status_code == 400 and rows(db) == before
    # The flow is still pending: the genuine response parks.
    assert post(client, {**GOOD, "state": state}).status_code == 303


def test_body_over_16k_is_refused(gw):
    client, _, db = gw
    state = begin(client)
    before = rows(db)
    response = post(client, {**GOOD, "state": state, "padding": "p" * 20_000})
    assert response.status_code == 400 and rows(db) == before


def test_fields_at_their_caps_are_parked(gw):
    client, _, db = gw
    state = begin(client)
    response = post(client, {"code": "c" * 2048, "state": state, "iss": "i" * 2048,
                             "error": "e" * 256, "error_description": "d" * 512})
    assert response.status_code == 303
    assert 4900 < len(parked(db)[0]) <= FORM_POST_MAX_PARKED


def test_a_query_mode_provider_has_no_form_post_flow(gw):
    client, runtime, db = gw
    state = begin(client, idp="plain")
    assert runtime.store.kv_get(FORM_POST_PENDING, form_post_key(state)) is None
    before = rows(db)
    assert post(client, {**GOOD, "state": state}).status_code == 400
    assert rows(db) == before


def test_parking_is_limited_per_client_address(gw, monkeypatch):
    monkeypatch.setattr(login, "FORM_POST_LIMIT", 2)
    client, _, db = gw
    for _ in range(2):
        assert post(client, {**GOOD, "state": begin(client)}).status_code == 303
    refused = post(client, {**GOOD, "state": begin(client)})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert len(parked(db)) == 2
    # Another address, and another address in the same IPv6 /64 counts as the same client.
    assert post(client, {**GOOD, "state": begin(client)}, address="192.0.2.11").status_code == 303
    for suffix, status in (("1", 303), ("2", 303), ("3", 429)):
        response = post(client, {**GOOD, "state": begin(client)},
                        address=f"2001:db8:1:2::{suffix}")
        assert response.status_code == status
