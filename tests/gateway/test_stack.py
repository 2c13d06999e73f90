"""The whole stack (Gateway): /auth answers counted by app and outcome, /sso/metrics behind
the trusted-proxy resolution, and log lines carrying nginx's request id."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.telemetry.logs import configure_logging
from ssomw.wsgi import Gateway
from tests.telemetry.scrape import value

PROXY = "10.0.0.1"


@pytest.fixture
def stack(tmp_path: Path) -> tuple[Client, Runtime]:
    config = from_text(yaml.safe_dump({
        "server": {"trusted_proxies": [f"{PROXY}/32"]},
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                       "client_secret": "s",
                       "logout": {"frontchannel": True}}],
        "apps": [{"id": "stack-wiki", "hosts": ["wiki.example.com"],
                  "rules": [{"paths": ["^/public/"], "policy": "bypass"},
                            {"paths": ["^/admin/"], "policy": "deny"}]}],
        "metrics": {"allow_from": ["192.168.0.0/16"]},
    }))
    runtime = Runtime.build(config)
    return Client(Gateway(config, runtime)), runtime


def scrape(client: Client, peer: str, forwarded_for: str | None = None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.get("/sso/metrics", headers=headers, environ_base={"REMOTE_ADDR": peer})


@pytest.mark.parametrize(("peer", "forwarded_for", "status"), [
    pytest.param(PROXY, "192.168.1.5", 200, id="allowed-client-via-proxy"),
    pytest.param(PROXY, "8.8.8.8", 403, id="other-client-via-proxy"),
    pytest.param(PROXY, None, 403, id="the-proxy-itself"),
    pytest.param("192.168.1.5", None, 200, id="allowed-direct"),
    pytest.param("8.8.8.8", "192.168.1.5", 403, id="forged-forwarded-for"),
])
def test_allow_from_applies_to_the_resolved_client(stack, peer, forwarded_for, status):
    client, _ = stack
    assert scrape(client, peer, forwarded_for).status_code == status


@pytest.mark.parametrize(("url", "app", "outcome"), [
    pytest.param("https://wiki.example.com/page", "stack-wiki", "unauthenticated", id="401"),
    pytest.param("https://wiki.example.com/public/a", "stack-wiki", "bypass", id="bypass"),
    pytest.param("https://wiki.example.com/admin/", "stack-wiki", "forbidden", id="deny"),
    pytest.param("https://elsewhere.example.com/", "unknown", "forbidden", id="no-app"),
    pytest.param("not a url", "unknown", "forbidden", id="bad-input"),
])
def test_auth_answers_are_counted(stack, url, app, outcome):
    client, _ = stack
    before = value("ssomw_auth_decisions_total", scrape(client, PROXY, "192.168.1.5").text,
                   app=app, outcome=outcome)
    client.get("/sso/auth", headers={"X-Original-URL": url},
               environ_base={"REMOTE_ADDR": PROXY})
    after = value("ssomw_auth_decisions_total", scrape(client, PROXY, "192.168.1.5").text,
                  app=app, outcome=outcome)
    assert after - before == 1


def test_store_outage_is_counted_and_answered_503(stack, monkeypatch):
    from ssomw.store.base import StoreUnavailable

    client, runtime = stack
    _, cookie = runtime.sessions.create(user="ann", provider="idp", sub="s", sid=None, data={})

    def down(*args, **kwargs):
        raise StoreUnavailable("down")

    monkeypatch.setattr(runtime.store, "get_session", down)
    text = scrape(client, "192.168.1.5").text
    before = value("ssomw_store_errors_total", text, operation="auth")
    client.set_cookie("ssomw_session", cookie)  # the gateway's own host: a subrequest's cookie
    response = client.get("/sso/auth", headers={"X-Original-URL": "https://wiki.example.com/"})
    assert response.status_code == 503
    text = scrape(client, "192.168.1.5").text
    assert value("ssomw_store_errors_total", text, operation="auth") - before == 1
    assert value("ssomw_auth_decisions_total", text, app="stack-wiki",
                 outcome="unavailable") >= 1


@pytest.fixture
def gateway_logging() -> Iterator[None]:
    """Put the "ssomw" logger back as it was: configure_logging binds a handler to this test's
    captured stderr and stops propagation, so left in place every later log line of the worker
    went to a closed stream ("Logging error"), and its traceback into whatever else was
    capturing stderr then (a CliRunner's output, failing a test that compares that output)."""
    logger = logging.getLogger("ssomw")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def test_json_log_lines_carry_the_request_id_from_nginx(stack, capsys, gateway_logging):
    client, _ = stack
    configure_logging({"format": "json", "level": "info"})
    client.get("/sso/frontchannel-logout?iss=https://idp.example.com&sid=s-1",
               headers={"X-Request-Id": "0123456789abcdef0123"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [line] = [x for x in lines if "front-channel logout" in x["message"]]
    assert line["request_id"] == "0123456789abcdef0123"
