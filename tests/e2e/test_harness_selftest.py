"""Self-tests of the process harness: each real component starts, answers and stops."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.browser import browser_context, chromium_browser, screenshot
from tests.support.gateway import GatewayProcess
from tests.support.net import free_port, port_open
from tests.support.nginx import Nginx
from tests.support.oidc_provider import TEST_PASSWORD, OidcProvider, client_metadata
from tests.support.process import Component
from tests.support.redis_server import RedisServer
from tests.support.require import unavailable
from tests.support.resolve import patch_localhost_resolution
from tests.support.signin import provider_logout, sign_in
from tests.support.upstream import EchoApp

pytestmark = pytest.mark.e2e

CLIENT_ID, CLIENT_SECRET = "selftest", "selftest-secret"


@pytest.fixture
def echo() -> Iterator[EchoApp]:
    with EchoApp("app-a") as app:
        yield app


@pytest.fixture
def provider(tmp_path: Path, echo: EchoApp) -> Iterator[OidcProvider]:
    client = client_metadata(
        CLIENT_ID, CLIENT_SECRET, [f"{echo.url}/callback"],
        post_logout_redirect_uris=[f"{echo.url}/logged-out"],
        backchannel_logout_uri=f"{echo.url}/backchannel",
    )
    with OidcProvider(tmp_path / "idp", clients=[client]) as idp:
        yield idp


def _authorize_url(idp: OidcProvider, echo: EchoApp, **extra: str) -> tuple[str, str, str]:
    """Authorization request URL with PKCE; returns (url, nonce, code_verifier)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    nonce = secrets.token_urlsafe(16)
    params = {
        "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": f"{echo.url}/callback",
        "scope": "openid email profile groups", "state": "st-1", "nonce": nonce,
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        **extra,
    }
    endpoint = idp.discovery()["authorization_endpoint"]
    return f"{endpoint}?{urlencode(params)}", nonce, verifier


def _redeem(idp: OidcProvider, echo: EchoApp, landed: dict, verifier: str) -> dict:
    query = parse_qs(urlsplit(landed["path"]).query)
    assert query["state"] == ["st-1"]
    response = requests.post(
        idp.discovery()["token_endpoint"], auth=(CLIENT_ID, CLIENT_SECRET), timeout=5,
        data={"grant_type": "authorization_code", "code": query["code"][0],
              "redirect_uri": f"{echo.url}/callback", "code_verifier": verifier},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_provider_code_flow_with_real_forms(provider: OidcProvider, echo: EchoApp) -> None:
    disc = provider.discovery()
    assert disc["issuer"] == provider.issuer
    published = requests.get(disc["jwks_uri"], timeout=5).json()
    assert {k["kid"] for k in published["keys"]} == {
        k["kid"] for k in provider.public_jwks["keys"]}
    assert all("d" not in k for k in published["keys"])

    url, nonce, verifier = _authorize_url(
        provider, echo, acr_values="urn:test:mfa", login_hint="alice", x_custom="42")
    landed = sign_in(requests.Session(), url, "alice", TEST_PASSWORD)
    assert landed.status_code == 200, landed.trail
    echoed = landed.json()
    assert echoed["app"] == "app-a" and echoed["path"].startswith("/callback?code=")
    sent = provider.last_auth_params()
    assert (sent["acr_values"], sent["login_hint"], sent["x_custom"]) == (
        "urn:test:mfa", "alice", "42")

    tokens = _redeem(provider, echo, echoed, verifier)
    id_token = jwt.decode(tokens["id_token"], KeySet.import_key_set(provider.public_jwks))
    assert id_token.claims["iss"] == provider.issuer
    assert id_token.claims["aud"] == CLIENT_ID and id_token.claims["nonce"] == nonce
    assert "groups" not in id_token.claims  # groups come from userinfo only
    assert tokens.get("refresh_token")

    info = requests.get(disc["userinfo_endpoint"], timeout=5,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert info["sub"] == "alice"
    assert (info["email"], info["groups"]) == ("alice@example.com", ["staff", "admins"])
    assert info["department"] == "Engineering"


def test_provider_refuses_wrong_password_and_accepts_email_login(
    provider: OidcProvider, echo: EchoApp
) -> None:
    url, _, _ = _authorize_url(provider, echo)
    refused = sign_in(requests.Session(), url, "alice", "wrong")
    assert refused.status_code == 401 and "Invalid login or password" in refused.text
    url, _, _ = _authorize_url(provider, echo)
    landed = sign_in(requests.Session(), url, "BOB@example.org", TEST_PASSWORD)
    assert landed.json()["path"].startswith("/callback?code=")


def test_provider_pages_are_its_own_never_the_librarys_debug_views(
    provider: OidcProvider, echo: EchoApp
) -> None:
    url, _, _ = _authorize_url(provider, echo)
    with requests.Session() as browser:
        login = browser.get(url, timeout=5)
        assert login.status_code == 200 and "<title>Sign in · Test OpenID provider</title>" \
            in login.text
        expired = requests.post(login.url, data={"prompt": "login", "login": "alice",
                                                 "password": TEST_PASSWORD}, timeout=5)
    assert expired.status_code == 400 and "has expired" in expired.text  # no cookie
    bad_client = requests.get(url.replace(f"client_id={CLIENT_ID}", "client_id=nobody"),
                              timeout=5)
    assert bad_client.status_code == 400 and "Something went wrong" in bad_client.text
    for page in (login.text, expired.text, bad_client.text):
        assert "DEBUG" not in page and "oops" not in page and "<script" not in page


def test_provider_logout_sends_backchannel_token_to_loopback(
    provider: OidcProvider, echo: EchoApp
) -> None:
    session = requests.Session()
    url, _, verifier = _authorize_url(provider, echo)
    tokens = _redeem(provider, echo, sign_in(session, url, "alice", TEST_PASSWORD).json(),
                     verifier)
    end = provider.discovery()["end_session_endpoint"]
    query = urlencode({"id_token_hint": tokens["id_token"], "state": "bye",
                       "post_logout_redirect_uri": f"{echo.url}/logged-out"})
    final = provider_logout(session, f"{end}?{query}")
    assert final.json()["path"] == "/logged-out?state=bye"

    [delivery] = provider.backchannel_deliveries()
    assert delivery["status"] == 200 and delivery["url"] == f"{echo.url}/backchannel"
    token = jwt.decode(delivery["logout_token"], provider.private_jwks)
    assert token.claims["sub"] == "alice" and token.claims["sid"]
    assert "http://schemas.openid.net/event/backchannel-logout" in token.claims["events"]


def test_provider_end_sessions_notifies_clients(provider: OidcProvider, echo: EchoApp) -> None:
    url, _, _ = _authorize_url(provider, echo)
    sign_in(requests.Session(), url, "alice", TEST_PASSWORD)
    result = provider.end_sessions("alice")
    assert [n["ok"] for n in result["notified"]] == [True]
    assert provider.end_sessions("alice")["notified"] == []


def test_provider_stop_frees_port_and_restart_keeps_keys(provider: OidcProvider) -> None:
    kids = {k["kid"] for k in provider.public_jwks["keys"]}
    provider.stop()
    assert not port_open(provider.port)
    provider.start()
    published = requests.get(provider.discovery()["jwks_uri"], timeout=5).json()
    assert {k["kid"] for k in published["keys"]} == kids


def _server_block(port: int, upstream: str, extra: str = "") -> str:
    return (f"server {{ listen 127.0.0.1:{port}; location / {{ {extra} "
            f"proxy_set_header Host $http_host; proxy_pass {upstream}; }} }}")


@pytest.fixture
def nginx(tmp_path: Path, echo: EchoApp) -> Iterator[Nginx]:
    port = free_port()
    with Nginx(tmp_path / "nginx", _server_block(port, echo.url)) as server:
        server.port = port  # type: ignore[attr-defined]
        yield server


def test_nginx_proxies_and_reloads(nginx: Nginx, echo: EchoApp) -> None:
    port = nginx.port  # type: ignore[attr-defined]
    body = requests.get(f"http://127.0.0.1:{port}/hello?x=1", timeout=5).json()
    assert (body["app"], body["path"]) == ("app-a", "/hello?x=1")
    assert requests.get(f"http://127.0.0.1:{port}/static/a.txt", timeout=5).text.startswith(
        "static file")

    nginx.reload(_server_block(port, echo.url, "proxy_set_header X-Reloaded yes;"))
    body = requests.get(f"http://127.0.0.1:{port}/", timeout=5).json()
    assert body["headers"]["X-Reloaded"] == "yes"


def test_nginx_config_error_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="unknown directive"):
        Nginx(tmp_path, "server { listen 127.0.0.1:1; bogus_directive on; }").start()


def test_python_resolves_localhost_names(nginx: Nginx) -> None:
    port = nginx.port  # type: ignore[attr-defined]
    with patch_localhost_resolution():
        body = requests.get(f"http://app-a.ssomw.localhost:{port}/r", timeout=5).json()
    assert body["headers"]["Host"] == f"app-a.ssomw.localhost:{port}"


@pytest.mark.browser
def test_chromium_reaches_localhost_names_and_signs_in(
    nginx: Nginx, provider: OidcProvider, echo: EchoApp
) -> None:
    port = nginx.port  # type: ignore[attr-defined]
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(f"http://app-a.ssomw.localhost:{port}/page")
        body = json.loads(page.locator("pre").inner_text())
        assert body["headers"]["Host"] == f"app-a.ssomw.localhost:{port}"

        url, _, _ = _authorize_url(provider, echo)
        page.goto(url)
        page.fill("input[name=login]", "alice")
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("button[type=submit]")
        page.click("button[type=submit]")  # consent: Continue
        page.wait_for_url(f"{echo.url}/callback?*")
        assert screenshot(page, "harness-selftest-callback").exists()


def _gateway_config(tmp_path: Path, idp: OidcProvider, echo: EchoApp) -> dict:
    return {
        "store": {"backend": "sqlite", "path": str(tmp_path / "gateway.db")},
        "session": {"secret_keys": [secrets.token_hex(32)], "secure": False},
        "providers": [{"id": "idp", "issuer": idp.issuer, "client_id": CLIENT_ID,
                       "authoritative": ["username"],
                       "client_secret": CLIENT_SECRET,
                       "scopes": ["openid", "email", "profile", "groups"]}],
        "apps": [{"id": "app-a", "hosts": ["app-a.ssomw.localhost"], "upstream": echo.url}],
    }


def test_gateway_restart_keeps_port_and_stop_frees_it(
    tmp_path: Path, provider: OidcProvider, echo: EchoApp
) -> None:
    with GatewayProcess(tmp_path / "gw", _gateway_config(tmp_path, provider, echo)) as gateway:
        assert requests.get(f"{gateway.url}/sso/healthz", timeout=5).status_code == 200
        gateway.restart()
        assert requests.get(f"{gateway.url}/sso/healthz", timeout=5).status_code == 200
    assert not port_open(gateway.port)


def test_whole_chain_signs_in_through_nginx(tmp_path: Path, echo: EchoApp) -> None:
    """Provider + gateway + the nginx config `ssomw nginx` prints + echo app, signed in by
    the scripted forms: proves the pieces of the harness fit together."""
    port = free_port()
    app = f"http://app-a.ssomw.localhost:{port}"
    client = client_metadata(CLIENT_ID, CLIENT_SECRET, [f"{app}/sso/callback"],
                             post_logout_redirect_uris=[f"{app}/sso/logged-out"])
    with OidcProvider(tmp_path / "idp", clients=[client]) as idp:
        gateway = GatewayProcess(tmp_path / "gw", _gateway_config(tmp_path, idp, echo))
        conf = gateway.nginx_conf(f"127.0.0.1:{port}", tmp_path / "auth-cache")
        with gateway, Nginx(tmp_path / "nginx", conf), patch_localhost_resolution():
            landed = sign_in(requests.Session(), f"{app}/hello", "alice", TEST_PASSWORD)
    assert landed.status_code == 200, landed.trail
    body = landed.json()
    assert (body["app"], body["path"]) == ("app-a", "/hello")
    assert body["headers"]["X-Auth-Request-User"] == "alice"


class _HttpServer(Component):
    """The smallest component: Python's http.server; `fail` exits at once, as a bad config."""

    name = "http.server"
    log_name = "server.log"

    def __init__(self, workdir: Path, fail: bool = False) -> None:
        super().__init__(workdir, free_port())
        self.fail = fail
        self.url = f"http://127.0.0.1:{self.port}/"

    def launch(self) -> None:
        argv = ([sys.executable, "-c", "print('bad config: line 3'); raise SystemExit(3)"]
                if self.fail else
                [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port)])
        self.process.start(argv, cwd=self.workdir)

    def wait_ready(self, timeout: float) -> None:
        self.wait_url(self.url, timeout)


def test_component_lifecycle_keeps_the_port_and_frees_it(tmp_path: Path) -> None:
    with _HttpServer(tmp_path) as server:
        first = server.pid
        assert server.start() is server and server.pid == first  # running: left as it is
        server.freeze()  # the kernel accepts the connection, nobody answers
        with pytest.raises(requests.Timeout):
            requests.get(server.url, timeout=0.5)
        server.restart()  # thaws first, so the stop needs no SIGKILL
        assert server.pid != first and requests.get(server.url, timeout=5).status_code == 200
        server.stop(kill=True)  # a crash
        assert not server.running and not port_open(server.port)
        server.start()
    assert server.pid is None and not port_open(server.port)


def test_a_component_that_dies_at_start_fails_fast_with_its_log(tmp_path: Path) -> None:
    server = _HttpServer(tmp_path, fail=True)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="exited with code 3:\n.*bad config: line 3"):
        server.start()
    assert time.monotonic() - started < 5 and not server.running


@pytest.mark.parametrize(("ci", "outcome"), [("true", "failed"), ("", "skipped")])
def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch,
                                                           ci: str, outcome: str) -> None:
    """tests/support/require.py: a skip in CI would hide a regression behind a green run."""
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception if outcome == "failed" else pytest.skip.Exception):
        unavailable("slapd is not installed")


def test_a_cluster_node_whose_bus_port_was_taken_starts_on_other_ports() -> None:
    """A CI run lost 64 tests when a Redis Cluster node's bus port was taken between being
    chosen and bound: the retry must choose the bus port again, not only the client port."""
    node = RedisServer(cluster_bus=True)
    taken = node.bus_port
    assert taken is not None
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with node:
            assert node.ping() and node.bus_port != taken


def test_free_ports_chosen_before_any_is_bound_are_all_different() -> None:
    """A cluster's node and bus ports are all chosen before the first node binds one."""
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
