"""The broker through the real chain: Apache + mod_auth_openidc (an OpenID-Certified relying
party) signs users in with ssomw as its provider; ssomw signs them in upstream at the
oidc-provider. Chromium → Apache → nginx → gateway (broker) → oidc-provider → back.

Covered: sign-in with the mapped groups in Apache's claims, a user outside the client's app
policy gets the 403 page and Apache no code, RP-initiated logout through Apache ends the ssomw
session (and the provider's), and an upstream back-channel logout ends the Apache session
through the broker's own back-channel logout token."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from argon2 import PasswordHasher

from tests.support.apache import ApacheRP
from tests.support.browser import browser_context, chromium_browser, provider_login

from .conftest import start_stack
from .stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
WIKI_SECRET = "wiki-client-secret-0123456789"


class BrokerStack(Stack):
    """The usual stack plus an app ``wiki`` (for ``app-b-users``) whose own OIDC client is
    Apache's mod_auth_openidc, registered with the broker."""

    APP_NAMES = ("app-a", "app-b", "wiki")

    def __init__(self, workdir: Path, **options: Any) -> None:
        super().__init__(workdir, **options)
        self.apache: ApacheRP | None = None

    @property
    def issuer(self) -> str:
        return f"http://{self.host('app-a')}:{self.port}/sso"

    def apps_config(self) -> list[dict[str, Any]]:
        return [*super().apps_config(),
                {"id": "wiki", "hosts": [self.host("wiki")], "upstream": self.apps["wiki"].url,
                 "allowed_groups": ["app-b-users"]}]

    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        assert self.apache is not None
        config["broker"] = {"issuer": self.issuer, "clients": [{
            "client_id": "wiki", "client_secret_hash": PasswordHasher().hash(WIKI_SECRET),
            "app": "wiki", "redirect_uris": [self.apache.redirect_uri],
            "post_logout_redirect_uris": [self.apache.logged_out_url],
            "backchannel_logout_uri": self.apache.backchannel_uri}]}
        return config

    def start(self) -> BrokerStack:
        self.apache = ApacheRP(self.workdir / "apache", host=self.host("wiki"),
                               issuer=self.issuer, client_id="wiki", client_secret=WIKI_SECRET,
                               upstream="http://127.0.0.1:1")  # set once the echo app runs
        super().start()
        self.apache.upstream = self.apps["wiki"].url.rstrip("/")
        self.apache.start()  # after the gateway: the client's registration names its port
        return self

    def stop(self) -> None:
        if self.apache is not None:
            self.apache.stop()
        super().stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerStack]:
    s = start_stack(tmp_path_factory, "broker", cls=BrokerStack)
    yield s
    s.stop()


def echo(page) -> dict[str, str]:
    return {k.lower(): v for k, v in json.loads(page.inner_text("body"))["headers"].items()}


def wait_for(predicate: Callable[[], bool], limit: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < limit, f"not within {limit} s"
        time.sleep(0.05)
    return time.monotonic() - started


def gateway_session(stack: Stack, context) -> requests.Session:
    """A requests session carrying the browser's ssomw cookie (to ask nginx about it)."""
    http = requests.Session()
    for cookie in context.cookies():
        if cookie["name"] == "ssomw_session":
            http.cookies.set(cookie["name"], cookie["value"], domain=cookie["domain"])
    return http


def signed_in_at_the_gateway(stack: Stack, http: requests.Session) -> bool:
    response = http.get(stack.url("app-a", "/page"), headers={"Accept": "application/json"},
                        allow_redirects=False)
    return response.status_code == 200


def test_apache_signs_in_through_the_broker_with_the_mapped_groups(stack: BrokerStack):
    apache = stack.apache
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(f"{apache.base}/protected/page?x=1")
        assert page.url.startswith(stack.provider.issuer), page.url  # upstream sign-in
        provider_login(page, "alice")
        assert page.url == f"{apache.base}/protected/page?x=1", page.url
        claims = echo(page)
        assert claims["oidc_claim_sub"] == "alice"
        assert claims["oidc_claim_groups"] == "app-b-users,staff"
        assert claims["oidc_claim_email"] == "alice@example.com"
        assert claims["oidc_claim_iss"] == stack.issuer
        # The ssomw session is the one the broker used: app-a needs no second sign-in.
        page.goto(stack.url("app-a", "/"))
        assert page.url == stack.url("app-a", "/")


def test_a_user_outside_the_clients_app_policy_gets_the_403_page_and_no_code(stack):
    apache = stack.apache
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(f"{apache.base}/protected/")
        provider_login(page, "bob")  # staff only: wiki is for app-b-users
        assert page.url.startswith(f"{stack.issuer}/broker/authorize"), page.url
        assert "code=" not in page.url
        assert "not allowed to use this application" in page.inner_text("body")
        response = page.goto(f"{apache.base}/protected/")  # Apache still has no session
        assert page.url.startswith(f"{stack.issuer}/broker/authorize"), page.url
        assert response is not None and response.status == 403


def test_rp_initiated_logout_through_apache_ends_the_ssomw_session(stack: BrokerStack):
    apache = stack.apache
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(f"{apache.base}/protected/")
        provider_login(page, "alice")
        http = gateway_session(stack, context)
        assert signed_in_at_the_gateway(stack, http)
        page.goto(f"{apache.redirect_uri}?logout={quote(apache.logged_out_url, safe='')}")
        if page.url.startswith(stack.provider.issuer):  # the provider asks before signing out
            page.click("button[name=logout], button[value=yes]")
        page.wait_for_url(apache.logged_out_url)
        assert json.loads(page.inner_text("body"))["path"] == "/signed-out"
        # Refused at nginx within its decision cache's bound (1 s).
        wait_for(lambda: not signed_in_at_the_gateway(stack, http), limit=1.5)
        page.goto(f"{apache.base}/protected/")  # Apache's session is gone too
        assert page.url.startswith(stack.provider.issuer), page.url


def test_an_upstream_backchannel_logout_ends_the_apache_session(stack: BrokerStack):
    apache = stack.apache
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(f"{apache.base}/protected/")
        provider_login(page, "alice")
        assert page.url == f"{apache.base}/protected/"
        apache_cookies = [c for c in context.cookies() if c["name"].startswith("mod_auth")]
        assert apache_cookies
        http = requests.Session()  # Apache's session cookie only: no ssomw cookie
        for cookie in apache_cookies:
            http.cookies.set(cookie["name"], cookie["value"])

        def apache_status() -> int:
            return http.get(f"{apache.base}/protected/", allow_redirects=False).status_code

        assert apache_status() == 200
        stack.provider.end_sessions("alice")  # upstream → gateway back-channel logout
        took = wait_for(lambda: apache_status() == 302, limit=5)
        assert took < 5


def test_prompt_login_makes_the_user_sign_in_upstream_again(stack: BrokerStack):
    """A client's ``prompt=login`` is a fresh sign-in at the upstream provider even though
    the ssomw session (and the provider's) would do; then the client gets its code."""
    apache = stack.apache
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(f"{apache.base}/protected/")
        provider_login(page, "alice")
        asked_before = len(stack.provider.auth_requests())
        page.goto(f"{stack.issuer}/broker/authorize?" + "&".join([
            "client_id=wiki", "response_type=code", "scope=openid", "state=again",
            f"redirect_uri={quote(apache.redirect_uri, safe='')}", "prompt=login"]))
        assert page.url.startswith(stack.provider.issuer), page.url  # the provider asks
        upstream = stack.provider.auth_requests()[asked_before:]
        assert upstream and upstream[-1].get("prompt") == "login"
        with page.expect_response(lambda r: r.url.startswith(apache.redirect_uri)) as info:
            provider_login(page, "alice")
        assert "code=" in info.value.url and "state=again" in info.value.url
