"""An in-process gateway with broker clients, and a browser already signed in to it."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import yaml
from argon2 import PasswordHasher
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.store.base import SessionRecord
from ssomw.wsgi import Gateway
from tests.admin.conftest import make_gw  # noqa: F401 (the admin API's fixture, used here)

HOST = "https://sso.example.com"
ISSUER = f"{HOST}/sso"
SECRET = "jira-secret-0123456789"
SECRET_HASH = PasswordHasher(time_cost=1, memory_cost=8192).hash(SECRET)
JIRA_CB = "https://jira.example.com/plugins/servlet/oidc/callback"
SPA_CB = "http://127.0.0.1:8765/cb"


def broker_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "server": {"public_url": HOST},
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "domain": "example.com"},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                       "client_secret": "s", "logout": {"rp_initiated": False}}],
        "profile": {"department": {"claim": "department"}},
        "apps": [{"id": "jira", "hosts": ["jira.example.com"], "allowed_groups": ["staff"]},
                 {"id": "spa", "hosts": ["spa.example.com"]}],
        "broker": {"clients": [
            {"client_id": "jira", "client_secret_hash": SECRET_HASH, "app": "jira",
             "redirect_uris": [JIRA_CB], "post_logout_redirect_uris": ["https://jira.example.com/"]},
            {"client_id": "spa", "public": True, "app": "spa", "redirect_uris": [SPA_CB],
             "scopes": ["openid", "email"]},
        ]},
        **extra,
    }


@dataclass
class Broker:
    client: Client
    runtime: Runtime

    def sign_in(self, user: str = "alice", groups: tuple[str, ...] = ("staff",),
                auth_time: float | None = None) -> SessionRecord:
        """Give the browser an ssomw session (as a finished upstream sign-in would)."""
        record, cookie = self.runtime.sessions.create(
            user=user, provider="idp", sub=f"sub-{user}", sid="up-sid",
            data={"groups": list(groups), "email": f"{user}@example.com",
                  "name": user.title(), "profile": {"department": "Engineering"},
                  **({"auth_time": auth_time} if auth_time is not None else {})})
        self.client.set_cookie("ssomw_session", cookie, domain="sso.example.com")
        return record

    def authorize(self, **params: str) -> Any:
        return self.client.get("/sso/broker/authorize?" + urlencode(params), base_url=HOST)

    def token(self, data: dict[str, str], auth: tuple[str, str] | None = None) -> Any:
        headers = {}
        if auth is not None:
            raw = f"{auth[0]}:{auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        return self.client.post("/sso/broker/token", data=data, headers=headers,
                                base_url=HOST)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def broker(tmp_path: Path) -> Broker:
    config = from_text(yaml.safe_dump(broker_config(tmp_path)))
    runtime = Runtime.build(config)
    return Broker(Client(Gateway(config, runtime)), runtime)


def jira_code(b: Broker, **extra: str) -> str:
    """A code for the confidential client (the browser must be signed in)."""
    response = b.authorize(response_type="code", client_id="jira", redirect_uri=JIRA_CB,
                           scope="openid email profile groups", state="st", nonce="n-1",
                           **extra)
    assert response.status_code == 302, response.get_data(as_text=True)
    query = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith(JIRA_CB) and query["state"] == "st"
    return query["code"]
