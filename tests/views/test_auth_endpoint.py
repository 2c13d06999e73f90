"""The auth hot path in-process (real SQLite store): contract §2 answers, table-driven."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.store.base import StoreUnavailable
from ssomw.views.auth import AuthEndpoint

CONFIG = {
    "server": {"trusted_proxies": ["127.0.0.1/32"]},
    "session": {"secret_keys": ["k" * 40], "secure": False},
    "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "c",
                   "client_secret": "s"},
                  {"id": "other", "issuer": "https://other.example.com", "client_id": "c",
                   "client_secret": "s"}],
    "routing": {"default": "idp"},
    "apps": [
        {"id": "wiki", "hosts": ["wiki.example.com"], "headers": {"X-Wiki-Mail": "email"},
         "rules": [{"paths": ["^/public/"], "policy": "bypass"},
                   {"paths": ["^/admin/"], "policy": "deny"}]},
        {"id": "desk", "hosts": ["*.desk.example.com"], "allowed_groups": ["agents"],
         "denied_action": "passthrough", "providers": ["idp"]},
        {"id": "plain", "hosts": ["plain.example.com"], "sso": False},
    ],
}
NAV = {"HTTP_ACCEPT": "text/html", "HTTP_SEC_FETCH_MODE": "navigate"}


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    data = {**CONFIG, "store": {"backend": "sqlite", "path": str(tmp_path / "s.db")}}
    return Runtime.build(from_text(yaml.safe_dump(data)))


def cookie_for(runtime: Runtime, groups: list[str], provider: str = "idp",
               name: str = "Zoë") -> str:
    _, cookie = runtime.sessions.create(user="zoe", provider=provider, sub="s1", sid="sid1",
                                        data={"groups": groups, "name": name,
                                              "email": "zoe@example.com"})
    return cookie


def call(runtime: Runtime, url: str, cookie: str | None = None, **environ: str):
    env = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_ORIGINAL_URL": url, **environ}
    if cookie:
        env["HTTP_COOKIE"] = f"other=1; ssomw_session={cookie}"
    status, headers = AuthEndpoint(runtime).decide(env)
    return int(status.split()[0]), dict(headers)


@pytest.mark.parametrize("url, groups, expected, identity", [
    pytest.param("https://wiki.example.com/page", [], 200, True, id="signed-in-allowed"),
    pytest.param("https://wiki.example.com/public/x", None, 200, False, id="bypass-anonymous"),
    pytest.param("https://wiki.example.com/admin/x", [], 403, False, id="deny-rule"),
    pytest.param("https://wiki.example.com/page", None, 401, False, id="anonymous"),
    pytest.param("https://x.desk.example.com/", ["agents"], 200, True, id="agent"),
    pytest.param("https://x.desk.example.com/", ["staff"], 200, False, id="passthrough"),
    pytest.param("https://plain.example.com/", None, 200, False, id="sso-off"),
    pytest.param("https://evil.example.com/", [], 403, False, id="unknown-host"),
    pytest.param("https://desk.example.com/", [], 403, False, id="wildcard-not-apex"),
    pytest.param("not a url", [], 403, False, id="garbage-url"),
    pytest.param("https://wiki.example.com:99999/", [], 403, False, id="bad-port"),
    pytest.param("", [], 403, False, id="missing-url"),
    pytest.param("ftp://wiki.example.com/", [], 403, False, id="bad-scheme"),
])
def test_decisions(runtime, url, groups, expected, identity):
    cookie = cookie_for(runtime, groups) if groups is not None else None
    status, headers = call(runtime, url, cookie, **NAV)
    assert status == expected
    assert ("X-Auth-Request-User" in headers) is identity
    assert headers["Cache-Control"] == "no-store"


def test_identity_headers_are_wsgi_latin1_of_utf8(runtime):
    status, headers = call(runtime, "https://wiki.example.com/", cookie_for(runtime, ["b", "a"]))
    assert status == 200
    assert headers["X-Auth-Request-Groups"] == "a,b"
    assert headers["X-Auth-Request-Name"].encode("latin-1").decode("utf-8") == "Zoë"


def test_allow_is_cacheable_to_the_end_of_the_next_second_only_when_nginx_caches(runtime):
    cookie = cookie_for(runtime, ["staff"])
    before = int(time.time())
    _, cached = call(runtime, "https://wiki.example.com/", cookie, HTTP_X_SSOMW_CACHE_BUCKET="1",
                     HTTP_X_SSOMW_CACHE_COOKIE=cookie)
    assert before + 1 <= int(cached["X-Accel-Expires"].lstrip("@")) <= int(time.time()) + 1
    _, uncached = call(runtime, "https://wiki.example.com/", cookie)
    assert "X-Accel-Expires" not in uncached and uncached["Cache-Control"] == "no-store"


@pytest.mark.parametrize("keyed", [
    pytest.param(None, id="no-key-cookie-sent"),
    pytest.param("zzz", id="nginx-keys-another-cookie"),
    pytest.param("", id="empty"),
])
def test_allow_is_cacheable_only_under_the_cookie_judged(runtime, keyed):
    cookie = cookie_for(runtime, ["staff"])
    extra = {} if keyed is None else {"HTTP_X_SSOMW_CACHE_COOKIE": keyed}
    status, headers = call(runtime, "https://wiki.example.com/", cookie,
                           HTTP_X_SSOMW_CACHE_BUCKET="1", **extra)
    assert status == 200 and "X-Accel-Expires" not in headers


@pytest.mark.parametrize("routed, declared, expected", [
    pytest.param("wiki.example.com", None, 200, id="same-host"),
    pytest.param("WIKI.Example.com", None, 200, id="same-host-other-case"),
    pytest.param("x.desk.example.com", None, 403, id="request-line-names-another-app"),
    pytest.param("", None, 403, id="empty-routed-host"),
    pytest.param(None, "wiki", 200, id="declared-app-matches"),
    pytest.param(None, "desk", 403, id="declared-app-differs"),
    pytest.param(None, "", 200, id="no-declared-app"),
])
def test_decides_only_for_the_host_and_app_nginx_routes_to(runtime, routed, declared, expected):
    extra = {}
    if routed is not None:
        extra["HTTP_X_SSOMW_HOST"] = routed
    if declared is not None:
        extra["HTTP_X_SSOMW_APP"] = declared
    cookie = cookie_for(runtime, ["agents"])
    status, headers = call(runtime, "https://wiki.example.com/page", cookie, **extra)
    assert status == expected
    assert ("X-Auth-Request-User" in headers) is (expected == 200)


def test_session_from_a_provider_the_app_does_not_accept_must_sign_in_again(runtime):
    cookie = cookie_for(runtime, ["agents"], provider="other")
    status, headers = call(runtime, "https://x.desk.example.com/", cookie, **NAV)
    assert status == 401 and "/sso/login?rd=" in headers["Location"]


@pytest.mark.parametrize("environ, location", [
    pytest.param(NAV, True, id="navigation"),
    pytest.param({}, True, id="no-accept-header"),
    pytest.param({"HTTP_ACCEPT": "application/json"}, False, id="json-api"),
    pytest.param({"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}, False, id="xhr"),
    pytest.param({"HTTP_SEC_FETCH_MODE": "cors", "HTTP_ACCEPT": "*/*"}, False, id="fetch"),
    pytest.param({**NAV, "HTTP_X_ORIGINAL_METHOD": "POST"}, False, id="post"),
])
def test_401_location_only_for_navigations(runtime, environ, location):
    status, headers = call(runtime, "https://wiki.example.com/a?b=c", None, **environ)
    assert status == 401
    assert ("Location" in headers) is location
    if location:
        assert headers["Location"] == ("https://wiki.example.com/sso/login?rd="
                                       "https%3A%2F%2Fwiki.example.com%2Fa%3Fb%3Dc")


def test_store_outage_is_503_never_allow(runtime, monkeypatch):
    cookie = cookie_for(runtime, [])

    def down(*args, **kwargs):
        raise StoreUnavailable("down")

    monkeypatch.setattr(runtime.store, "get_session", down)
    status, headers = call(runtime, "https://wiki.example.com/", cookie)
    assert status == 503 and "X-Auth-Request-User" not in headers
    # A bypass path needs no store, so it keeps working during the outage.
    assert call(runtime, "https://wiki.example.com/public/x")[0] == 200


def test_app_extra_headers_only_for_that_app(runtime):
    cookie = cookie_for(runtime, ["agents"])
    _, wiki = call(runtime, "https://wiki.example.com/", cookie)
    _, desk = call(runtime, "https://x.desk.example.com/", cookie)
    assert wiki["X-Wiki-Mail"] == "zoe@example.com" == wiki["X-Auth-Request-Email"]
    assert "X-Wiki-Mail" not in desk


@pytest.mark.parametrize("peer, forwarded, expected", [
    pytest.param("127.0.0.1", "10.1.2.3", 200, id="trusted-proxy-says-lan"),
    pytest.param("127.0.0.1", "192.0.2.7", 401, id="trusted-proxy-says-outside"),
    pytest.param("192.0.2.9", "10.1.2.3", 401, id="untrusted-peer-forged-header"),
    pytest.param("10.4.4.4", None, 200, id="direct-lan-peer"),
])
def test_network_rules_see_the_client_through_trusted_proxies_only(tmp_path, peer, forwarded,
                                                                    expected):
    """The whole stack (the Gateway sends /auth straight to the endpoint, outside the pages'
    proxy middleware): X-Forwarded-For counts only from server.trusted_proxies."""
    from werkzeug.test import Client

    from ssomw.wsgi import Gateway

    data = {**CONFIG, "store": {"backend": "sqlite", "path": str(tmp_path / "s.db")},
            "apps": [{"id": "lan", "hosts": ["lan.example.com"],
                      "rules": [{"networks": ["10.0.0.0/8"], "policy": "bypass"}]}]}
    gateway = Gateway(from_text(yaml.safe_dump(data)))
    headers = {"X-Original-URL": "https://lan.example.com/x", "X-Request-Id": "req-0123456789"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    response = Client(gateway).get("/sso/auth", headers=headers,
                                   environ_base={"REMOTE_ADDR": peer})
    assert response.status_code == expected
    assert "X-Auth-Request-User" not in response.headers
    gateway.store.close()


@pytest.mark.parametrize("header, url, signed_in, expected", [
    pytest.param("HTTP_X_AUTH_REQUEST_CLEARANCE", "https://wiki.example.com/page", True, 403,
                 id="unknown-family-member"),
    pytest.param("HTTP_X_AUTH_REQUEST_CLEARANCE", "https://wiki.example.com/public/x", False,
                 403, id="on-a-bypass-path-too"),
    pytest.param("HTTP_X_AUTH_REQUEST_CLEARANCE", "https://wiki.example.com/page", False, 403,
                 id="anonymous-refused-not-sent-to-sign-in"),
    pytest.param("HTTP_X_AUTH_REQUEST_CLEARANCE", "https://x.desk.example.com/", True, 403,
                 id="passthrough-app"),
    pytest.param("HTTP_X_AUTH_REQUEST_USER", "https://wiki.example.com/page", True, 200,
                 id="identity-header-overwritten"),
    pytest.param("HTTP_X_AUTH_REQUEST_AUTH_METHOD", "https://wiki.example.com/page", True, 200,
                 id="identity-header-auth-method"),
    pytest.param("HTTP_X_AUTH_REQUEST_ACCESS_TOKEN", "https://wiki.example.com/page", True, 200,
                 id="cleared-by-headers-strip"),
    pytest.param("HTTP_X_AUTH_REQUEST_DEPARTMENT", "https://wiki.example.com/public/x", False,
                 200, id="profile-name-in-strip"),
    pytest.param("HTTP_REMOTE_USER", "https://wiki.example.com/page", True, 200,
                 id="outside-the-family-cleared-by-name"),
    pytest.param("HTTP_X_AUTH_REQUESTED", "https://wiki.example.com/page", True, 200,
                 id="only-the-family-prefix"),
])
def test_identity_header_no_snippet_overwrites_is_refused(runtime, header, url, signed_in,
                                                          expected):
    cookie = cookie_for(runtime, ["agents"]) if signed_in else None
    status, headers = call(runtime, url, cookie, **{header: "forged"})
    assert status == expected
    assert "Location" not in headers


def test_headers_strip_decides_what_the_gateway_accepts(tmp_path):
    """The list replaces the default; a configured profile header counts as overwritten."""
    data = {**CONFIG, "store": {"backend": "sqlite", "path": str(tmp_path / "s.db")},
            "headers": {"strip": ["X-Auth-Request-Clearance"]},
            "profile": {"team": {"claim": "team"}}}
    runtime = Runtime.build(from_text(yaml.safe_dump(data)))
    url = "https://wiki.example.com/public/x"
    assert call(runtime, url, HTTP_X_AUTH_REQUEST_CLEARANCE="x")[0] == 200
    assert call(runtime, url, HTTP_X_AUTH_REQUEST_TEAM="x")[0] == 200
    assert call(runtime, url, HTTP_X_AUTH_REQUEST_ACCESS_TOKEN="x")[0] == 403


def test_refusals_are_logged_once_per_interval_naming_the_header(runtime, caplog):
    endpoint = AuthEndpoint(runtime)
    env = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_ORIGINAL_URL": "https://wiki.example.com/",
           "HTTP_X_AUTH_REQUEST_CLEARANCE": "secret-value"}
    for _ in range(3):
        assert endpoint.decide(dict(env))[0].startswith("403")
    lines = [r.getMessage() for r in caplog.records if "X-Auth-Request-Clearance" in
             r.getMessage()]
    assert len(lines) == 1 and "secret-value" not in lines[0]
