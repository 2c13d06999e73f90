"""In-process gateways for the admin API: the real stack (Gateway) over a SQLite store.

Tokens live in the config (``admin.tokens``, sha256 hashes), one per scope set used below.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.test import Client, TestResponse

from ssomw.admin.tokens import sha256_hash
from ssomw.config import from_text
from ssomw.config.schema import ADMIN_SCOPES
from ssomw.wsgi import Gateway

API = "/sso/api/v1"
TOKENS = {
    "all": ("ssomw-test-token-all-0123456789abcdef", list(ADMIN_SCOPES)),
    "reader": ("ssomw-test-token-reader-0123456789abc", ["config:read"]),
    "writer": ("ssomw-test-token-writer-0123456789abc", ["config:read", "config:write"]),
    "sessions": ("ssomw-test-token-sessions-0123456789", ["sessions:admin"]),
    "explainer": ("ssomw-test-token-explainer-012345678", ["config:read", "sessions:admin"]),
    "auditor": ("ssomw-test-token-auditor-0123456789a", ["audit:read"]),
}
CONFIG: dict[str, Any] = {
    "server": {"trusted_proxies": ["10.9.9.9/32"]},
    "session": {"secret_keys": ["k" * 40, "old-key-" + "o" * 32], "secure": False},
    "providers": [
        {"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
         "client_secret": "idp-client-secret-value"},
        {"id": "partner", "issuer": "https://partner.example.com", "client_id": "gw2",
         "client_secret": "partner-client-secret"},
    ],
    "routing": {"rules": [{"match": {"email_domain": "partner.example"},
                           "provider": "partner"}], "default": "idp"},
    "apps": [
        {"id": "wiki", "hosts": ["wiki.example.com"],
         "rules": [{"paths": ["^/public/"], "policy": "bypass"},
                   {"paths": ["^/admin/"], "policy": "authenticated", "groups": ["admins"]}]},
        {"id": "desk", "hosts": ["desk.example.com"], "allowed_groups": ["agents"],
         "denied_action": "passthrough"},
    ],
    "admin": {"tokens": [{"name": name, "hash": sha256_hash(token), "scopes": scopes}
                         for name, (token, scopes) in TOKENS.items()],
              "allow_from": ["127.0.0.0/8", "192.0.2.0/24"]},
}


@dataclass
class Gw:
    """One in-process gateway: ``api()`` calls the admin API as a named token."""

    client: Client
    gateway: Gateway
    raw: dict[str, Any]

    @property
    def runtime(self):
        return self.gateway.runtime

    @property
    def store(self):
        return self.gateway.store

    def api(self, method: str, path: str, token: str | None = "all", *,
            address: str = "127.0.0.1", headers: dict[str, str] | None = None,
            **kwargs: Any) -> TestResponse:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {TOKENS[token][0] if token in TOKENS else token}"
        return self.client.open(f"{API}{path}", method=method, headers=sent,
                                environ_base={"REMOTE_ADDR": address}, **kwargs)

    def reload(self) -> None:
        """Apply the newest stored version now (the watcher does it within a second)."""
        self.gateway.reload_from_store()

    def auth(self, url: str, cookie: str | None = None) -> int:
        headers = {"X-Original-URL": url, "Accept": "application/json"}
        if cookie:
            headers["Cookie"] = f"ssomw_session={cookie}"
        return self.client.get("/sso/auth", headers=headers,
                               environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code

    def etag(self) -> str:
        return self.api("GET", "/config").headers["ETag"]


def config_with(tmp_path: Path, name: str = "s.db", **overrides: Any) -> dict[str, Any]:
    raw = copy.deepcopy(CONFIG)
    raw["store"] = {"backend": "sqlite", "path": str(tmp_path / name)}
    for key, value in overrides.items():
        raw[key] = value
    return raw


@pytest.fixture
def make_gw(tmp_path: Path) -> Iterator[Callable[..., Gw]]:
    made: list[Gw] = []

    def make(raw: dict[str, Any] | None = None) -> Gw:
        raw = raw or config_with(tmp_path)
        stack = Gateway(from_text(yaml.safe_dump(raw)))
        gw = Gw(Client(stack, use_cookies=False), stack, raw)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.store.close()


@pytest.fixture
def gw(make_gw: Callable[..., Gw]) -> Gw:
    return make_gw()
