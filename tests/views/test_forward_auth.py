"""The three front doors (contract §8) in-process: ``/sso/auth``, ``/sso/forward-auth`` and
``/sso/ext-authz/`` reach the same decision for every case of one table, and only the form of
the answer differs; the forwarded headers count only from trusted proxies."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.wsgi import Gateway

PROXY = "10.0.0.7"
CONFIG = {
    "server": {"trusted_proxies": [f"{PROXY}/32"]},
    "session": {"secret_keys": ["k" * 40], "secure": False},
    "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "c",
                   "client_secret": "s"}],
    "apps": [
        {"id": "wiki", "hosts": ["wiki.example.com"], "headers": {"X-Wiki-Mail": "email"},
         "rules": [{"paths": ["^/public/"], "policy": "bypass"},
                   {"paths": ["^/admin/"], "policy": "deny"},
                   {"paths": ["^/office/"], "networks": ["192.168.0.0/16"],
                    "policy": "authenticated"},
                   {"paths": ["^/office/"], "policy": "deny"}]},
        {"id": "desk", "hosts": ["desk.example.com"], "allowed_groups": ["agents"],
         "denied_action": "passthrough"},
        {"id": "vault", "hosts": ["vault.example.com"], "allowed_groups": ["admins"]},
        {"id": "jira", "hosts": ["jira.example.com"], "api": {"paths": ["^/rest/"]}},
        {"id": "plain", "hosts": ["plain.example.com"], "sso": False},
    ],
}
NAV = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
XHR = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}


@pytest.fixture
def gateway(tmp_path: Path) -> tuple[Client, Runtime]:
    config = from_text(yaml.safe_dump({**CONFIG, "store": {"path": str(tmp_path / "s.db")}}))
    runtime = Runtime.build(config)
    return Client(Gateway(config, runtime), use_cookies=False), runtime


def cookie_for(runtime: Runtime, groups: list[str]) -> str:
    _, cookie = runtime.sessions.create(user="zoe", provider="idp", sub="s1", sid="sid1",
                                        data={"groups": groups, "email": "zoe@example.com"})
    return f"ssomw_session={cookie}"


def via_auth(client: Client, url: str, method: str, headers: dict[str, str], client_ip: str):
    return client.get("/sso/auth", headers={
        **headers, "X-Original-URL": url, "X-Original-Method": method,
        "X-Forwarded-For": client_ip}, environ_base={"REMOTE_ADDR": PROXY})


def via_forward_auth(client: Client, url: str, method: str, headers: dict[str, str],
                     client_ip: str):
    """As Traefik and Caddy ask: GET, the original request in X-Forwarded-*, the client's
    own headers passed along."""
    parts = urlsplit(url)
    uri = parts.path + (f"?{parts.query}" if parts.query else "")
    return client.get("/sso/forward-auth", headers={
        **headers, "X-Forwarded-Method": method, "X-Forwarded-Proto": parts.scheme,
        "X-Forwarded-Host": parts.netloc, "X-Forwarded-Uri": uri,
        "X-Forwarded-For": client_ip}, environ_base={"REMOTE_ADDR": PROXY})


def via_ext_authz(client: Client, url: str, method: str, headers: dict[str, str],
                  client_ip: str):
    """As Envoy's HTTP ext_authz asks: the original method, path_prefix + the original path,
    the original Host, X-Forwarded-Proto."""
    parts = urlsplit(url)
    uri = parts.path + (f"?{parts.query}" if parts.query else "")
    return client.open("/sso/ext-authz" + uri, method=method, headers={
        **headers, "Host": parts.netloc, "X-Forwarded-Proto": parts.scheme,
        "X-Forwarded-For": client_ip}, environ_base={"REMOTE_ADDR": PROXY})


def outcome(response: Any, door: str) -> tuple[Any, ...]:
    """What the user notices, in one shape for every door: allowed with whose identity, let
    through anonymously, sent to sign in (where), refused, or a bare 401 with its challenge."""
    status = response.status_code
    user = response.headers.get("X-Auth-Request-User") or None
    if status == 200:
        return ("allow", user, response.headers.get("X-Wiki-Mail") or None) if user else (
            "through",)
    if door == "auth" and status == 401 and "Location" in response.headers:
        return ("sign-in", response.headers["Location"])
    if door != "auth" and status == 302:
        return ("sign-in", response.headers["Location"])
    return (status, response.headers.get("WWW-Authenticate"))


CASES = [
    # url, method, headers, groups (None: anonymous), client address, expected outcome
    pytest.param("https://wiki.example.com/page", "GET", NAV, [], "8.8.8.8",
                 ("allow", "zoe", "zoe@example.com"), id="allowed"),
    pytest.param("https://wiki.example.com/page?q=1", "GET", NAV, None, "8.8.8.8",
                 ("sign-in", "https://wiki.example.com/sso/login?rd=https%3A%2F%2Fwiki."
                  "example.com%2Fpage%3Fq%3D1"), id="navigation-without-session"),
    pytest.param("https://wiki.example.com/page", "GET", XHR, None, "8.8.8.8",
                 (401, None), id="xhr-without-session"),
    pytest.param("https://wiki.example.com/page", "POST", NAV, None, "8.8.8.8",
                 (401, None), id="post-without-session"),
    pytest.param("https://wiki.example.com/public/a", "GET", NAV, None, "8.8.8.8",
                 ("through",), id="bypass"),
    pytest.param("https://wiki.example.com/admin/", "GET", NAV, [], "8.8.8.8",
                 (403, None), id="deny-rule"),
    pytest.param("https://wiki.example.com/office/", "GET", NAV, [], "192.168.1.9",
                 ("allow", "zoe", "zoe@example.com"), id="network-rule-inside"),
    pytest.param("https://wiki.example.com/office/", "GET", NAV, [], "8.8.8.8",
                 (403, None), id="network-rule-outside"),
    pytest.param("https://desk.example.com/", "GET", NAV, ["staff"], "8.8.8.8",
                 ("through",), id="passthrough"),
    pytest.param("https://desk.example.com/", "GET", NAV, ["agents"], "8.8.8.8",
                 ("allow", "zoe", None), id="in-group"),
    pytest.param("https://vault.example.com/", "GET", NAV, ["staff"], "8.8.8.8",
                 (403, None), id="not-in-group"),
    pytest.param("https://jira.example.com/rest/api", "GET", NAV, None, "8.8.8.8",
                 (401, 'Bearer realm="jira"'), id="api-path-challenge"),
    pytest.param("https://plain.example.com/", "GET", NAV, None, "8.8.8.8",
                 ("through",), id="sso-off"),
    pytest.param("https://evil.example.com/", "GET", NAV, [], "8.8.8.8",
                 (403, None), id="host-of-no-app"),
]


@pytest.mark.parametrize("url, method, headers, groups, client_ip, expected", CASES)
def test_every_door_reaches_the_same_decision(gateway, url, method, headers, groups,
                                              client_ip, expected):
    client, runtime = gateway
    if groups is not None:
        headers = {**headers, "Cookie": cookie_for(runtime, groups)}
    seen = {door: outcome(ask(client, url, method, headers, client_ip), door)
            for door, ask in (("auth", via_auth), ("forward-auth", via_forward_auth),
                              ("ext-authz", via_ext_authz))}
    assert seen == {door: expected for door in seen}


def test_allow_carries_every_copied_header_even_when_empty(gateway):
    client, runtime = gateway
    allowed = via_forward_auth(client, "https://wiki.example.com/", "GET",
                               {"Cookie": cookie_for(runtime, [])}, "8.8.8.8")
    assert allowed.headers["X-Auth-Request-Email"] == "zoe@example.com"
    assert allowed.headers["X-Auth-Request-Name"] == ""  # the session has no name: empty
    assert allowed.headers["X-Wiki-Mail"] == "zoe@example.com"
    bypass = via_forward_auth(client, "https://wiki.example.com/public/", "GET", {}, "8.8.8.8")
    assert bypass.status_code == 200
    assert bypass.headers["X-Auth-Request-User"] == ""  # overwrites a client's, if any
    assert "X-Accel-Expires" not in bypass.headers


def test_refusal_is_the_gateways_html_page(gateway):
    client, runtime = gateway
    for ask in (via_forward_auth, via_ext_authz):
        response = ask(client, "https://vault.example.com/x", "GET",
                       {"Cookie": cookie_for(runtime, ["staff"]), **NAV}, "8.8.8.8")
        assert response.status_code == 403
        assert response.mimetype == "text/html"
        assert "zoe" in response.get_data(as_text=True)  # worded for who is asking


def test_a_clients_x_original_url_is_not_believed(gateway):
    """Caddy and Traefik pass the client's headers along: its X-Original-URL naming a bypass
    path, or its X-Ssomw-App, must not change what is judged."""
    client, _ = gateway
    response = via_forward_auth(client, "https://wiki.example.com/page", "GET", {
        **NAV, "X-Original-URL": "https://wiki.example.com/public/x",
        "X-Original-Method": "OPTIONS", "X-Ssomw-App": "plain"}, "8.8.8.8")
    assert response.status_code == 302


@pytest.mark.parametrize("path, headers", [
    pytest.param("/sso/forward-auth", {"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https",
                                       "X-Forwarded-Host": "wiki.example.com",
                                       "X-Forwarded-Uri": "/public/x"}, id="forward-auth"),
    pytest.param("/sso/forward-auth", {}, id="forward-auth-bare"),
    pytest.param("/sso/ext-authz/public/x", {"Host": "wiki.example.com",
                                             "X-Forwarded-Proto": "https"}, id="ext-authz"),
    pytest.param("/sso/ext-authz/public/x", {"Host": "wiki.example.com"}, id="ext-authz-bare"),
])
def test_an_untrusted_peer_gets_400(gateway, path, headers, caplog):
    client, _ = gateway
    for _ in range(3):
        response = client.get(path, headers=headers, environ_base={"REMOTE_ADDR": "8.8.8.8"})
        assert response.status_code == 400
        assert "server.trusted_proxies" in response.get_data(as_text=True)
    refusals = [r for r in caplog.records if "trusted_proxies" in r.getMessage()]
    assert len(refusals) == 1  # once per interval, not once per request


def test_unreadable_forwarded_headers_get_400_saying_which(gateway):
    client, _ = gateway
    response = client.get("/sso/forward-auth", headers={
        "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "wiki.example.com", "X-Forwarded-Uri": "https://evil.example/"},
        environ_base={"REMOTE_ADDR": PROXY})
    assert response.status_code == 400
    assert "X-Forwarded-Uri" in response.get_data(as_text=True)


def test_store_outage_fails_closed(gateway, monkeypatch):
    client, runtime = gateway
    from ssomw.store.base import StoreUnavailable

    def down(*_: Any) -> None:
        raise StoreUnavailable("down")

    monkeypatch.setattr(runtime.sessions, "load", down)
    response = via_forward_auth(client, "https://wiki.example.com/page", "GET",
                                {**NAV, "Cookie": "ssomw_session=x"}, "8.8.8.8")
    assert response.status_code == 503
    assert "X-Auth-Request-User" not in response.headers


def test_ingress_nginx_subrequest_headers_are_not_taken_for_forgeries(gateway):
    """ingress-nginx's auth location sends X-Auth-Request-Redirect and X-Sent-From; any other
    unknown X-Auth-Request-* is still refused."""
    client, runtime = gateway
    shaped = {"X-Auth-Request-Redirect": "/page", "X-Sent-From": "nginx-ingress-controller",
              "Cookie": cookie_for(runtime, [])}
    allowed = via_auth(client, "https://wiki.example.com/page", "GET", shaped, "8.8.8.8")
    assert allowed.status_code == 200 and allowed.headers["X-Auth-Request-User"] == "zoe"
    forged = via_auth(client, "https://wiki.example.com/page", "GET",
                      {**shaped, "X-Auth-Request-Level": "root"}, "8.8.8.8")
    assert forged.status_code == 403
