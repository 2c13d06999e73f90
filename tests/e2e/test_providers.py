"""Several real providers, per-app policy and routing through the real chain (issue 3).

Two oidc-provider instances: `idp` (example.com staff) and `partner` (partner.example users,
form_post response mode). Apps: `app-a` (open, path and network rules), `app-b` (dedicated to
partner), `app-c` (any provider: e-mail routing or choice page, prompt=login), `desk` (agents
only, passthrough), `plain` (SSO off).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.browser import browser_context, chromium_browser, screenshot
from tests.support.oidc_provider import OidcProvider
from tests.support.signin import parse_forms, sign_in

from .conftest import API, start_stack
from .stack import USERS, Stack

NAV = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
PARTNER_USERS: dict[str, dict[str, Any]] = {
    "carol": {"email": "carol@partner.example", "email_verified": True, "name": "Carol Partner",
              "preferred_username": "carol", "groups": ["agents"]},
    "dave": {"email": "dave@evil.example", "email_verified": True, "name": "Dave",
             "preferred_username": "dave", "groups": ["agents"]},
}


class TwoProviderStack(Stack):
    APP_NAMES = ("app-a", "app-b", "app-c", "desk", "plain")

    def start_providers(self) -> None:
        super().start_providers()
        self.partner = OidcProvider(self.workdir / "partner", users=PARTNER_USERS,
                                    clients=[self.client()]).start()
        self.extra_providers.append(self.partner)

    def providers_config(self) -> list[dict[str, Any]]:
        [idp] = super().providers_config()
        idp["auth_params"] = {"acr_values": "urn:test:loa1", "ui_locales": "de",
                              "x_custom": "hello"}
        return [idp, {**idp, "id": "partner", "name": "Partner login", "auth_params": {},
                      "issuer": self.partner.issuer, "response_mode": "form_post"}]

    def apps_config(self) -> list[dict[str, Any]]:
        def app(name: str, **extra: Any) -> dict[str, Any]:
            return {"id": name, "hosts": [self.host(name)], "upstream": self.apps[name].url,
                    **extra}
        return [
            app("app-a", rules=[
                {"paths": ["^/public/"], "policy": "bypass"},
                {"paths": ["^/admin/"], "policy": "deny"},
                {"paths": ["^/lan/"], "networks": ["127.0.0.0/8"], "policy": "bypass"},
                {"paths": ["^/internal/"], "networks": ["10.0.0.0/8"],
                 "policy": "authenticated"},
                {"paths": ["^/internal/"], "policy": "deny"},
                {"paths": ["^/staff/"], "groups": ["staff"], "policy": "authenticated"}]),
            app("app-b", providers=["partner"]),
            app("app-c", auth_params={"prompt": "login"}),
            app("desk", allowed_groups=["agents"], denied_action="passthrough"),
            app("plain", sso=False),
        ]

    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        config["routing"] = {
            "rules": [{"match": {"host": self.host("app-a")}, "provider": "idp"},
                      {"match": {"email_domain": ["partner.example", "evil.example"]},
                       "provider": "partner"},
                      {"match": {"email_domain": "example.com"}, "provider": "idp"}],
            "default": "choose",
            "allowed_email_domains": ["example.com", "partner.example"],
        }
        return config


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> Iterator[TwoProviderStack]:
    stack = start_stack(tmp_path_factory, "providers", TwoProviderStack)
    yield stack
    stack.stop()


def login_location(session: requests.Session, stack: Stack, app: str, **params: str) -> str:
    """Where the gateway sends the browser after /sso/login for this app (no redirects)."""
    response = session.get(stack.url(app, "/sso/login"), allow_redirects=False,
                           params={"rd": stack.url(app, "/"), **params})
    assert response.status_code in (200, 302), response.text
    return response.headers.get("Location", "")


def headers_of(response: requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.json()["headers"].items()}


def test_dedicated_provider_per_app(two: TwoProviderStack):
    session = requests.Session()
    assert login_location(session, two, "app-b").startswith(two.partner.issuer)
    assert login_location(session, two, "app-a").startswith(two.provider.issuer)
    # A session from idp is not accepted by app-b: it asks for a sign-in at partner.
    assert sign_in(session, two.url("app-a", "/"), "alice", "test-password").status_code == 200
    response = session.get(two.url("app-b", "/"), headers=NAV, allow_redirects=False)
    assert response.status_code == 302 and "/sso/login" in response.headers["Location"]
    assert login_location(session, two, "app-b").startswith(two.partner.issuer)


def test_auth_params_reach_the_provider_and_app_override_forces_login(two: TwoProviderStack):
    session = requests.Session()
    sign_in(session, two.url("app-a", "/"), "alice", "test-password")
    seen = two.provider.last_auth_params()
    assert (seen["acr_values"], seen["ui_locales"], seen["x_custom"]) == \
        ("urn:test:loa1", "de", "hello")
    assert seen["code_challenge_method"] == "S256" and seen["state"] and seen["nonce"]
    # app-c adds prompt=login: although signed in at idp, the provider asks again.
    page = session.get(two.url("app-c", "/sso/login"),
                       params={"rd": two.url("app-c", "/"), "login_hint": "alice@example.com"})
    assert two.provider.last_auth_params()["prompt"] == "login"
    assert any(f.fields.get("prompt") == "login" for f in parse_forms(page.text)), page.url


def test_email_routing_from_login_hint(two: TwoProviderStack):
    session = requests.Session()
    assert login_location(session, two, "app-c", login_hint="carol@partner.example") \
        .startswith(two.partner.issuer)
    assert login_location(session, two, "app-c", login_hint="alice@example.com") \
        .startswith(two.provider.issuer)


def test_email_page_then_choice_page(two: TwoProviderStack):
    session = requests.Session()
    page = session.get(two.url("app-c", "/sso/login"), params={"rd": two.url("app-c", "/x")})
    assert page.status_code == 200 and 'name="email"' in page.text
    [form] = parse_forms(page.text)
    answer = session.post(two.url("app-c", "/sso/login"), allow_redirects=False,
                          data={**form.fields, "email": "carol@partner.example"})
    assert answer.status_code == 302 and answer.headers["Location"].startswith(two.partner.issuer)
    # An address no rule knows leads to the choice page, listing both providers by name.
    other = session.post(two.url("app-c", "/sso/login"), allow_redirects=False,
                         data={**form.fields, "email": "someone@unknown.example"})
    assert "Test IdP" in other.text and "Partner login" in other.text
    forged = session.post(two.url("app-c", "/sso/login"), allow_redirects=False,
                          data={**form.fields, "csrf": "forged", "email": "a@example.com"})
    assert forged.status_code == 400


def test_refused_email_domain_creates_no_session(two: TwoProviderStack):
    session = requests.Session()
    start = session.get(two.url("app-b", "/"), headers=NAV, allow_redirects=False)
    final = sign_in(session, start.headers["Location"], "dave", "test-password")
    assert final.status_code == 403 and "DOMAIN_NOT_ALLOWED" in final.text
    assert "ssomw_session" not in session.cookies
    again = session.get(two.url("app-b", "/"), headers=API, allow_redirects=False)
    assert again.status_code == 401


def test_agents_get_identity_others_fall_through(two: TwoProviderStack):
    agent, staff = requests.Session(), requests.Session()
    sign_in(agent, two.url("app-b", "/"), "carol", "test-password")
    sign_in(staff, two.url("app-a", "/"), "alice", "test-password")
    assert headers_of(agent.get(two.url("desk", "/queue"), headers=API))[
        "x-auth-request-user"] == "carol"
    through = staff.get(two.url("desk", "/queue"), headers=API, allow_redirects=False)
    assert through.status_code == 200 and "x-auth-request-user" not in headers_of(through)


def test_sso_off_app_is_untouched_but_unforgeable(two: TwoProviderStack):
    response = requests.get(two.url("plain", "/anything"), allow_redirects=False,
                            headers={**NAV, "X-Auth-Request-User": "admin"})
    assert response.status_code == 200
    assert "x-auth-request-user" not in headers_of(response)


@pytest.mark.parametrize("path, expected", [
    pytest.param("/public/a", 200, id="bypass"),
    pytest.param("/admin/a", 403, id="deny"),
    pytest.param("/lan/a", 200, id="network-bypass-for-loopback"),
    pytest.param("/internal/a", 403, id="network-rule-not-matching-then-deny"),
    pytest.param("/public/..;/admin/x", 403, id="path-confusion-is-not-bypass"),
])
def test_path_and_network_rules_for_anonymous_users(two: TwoProviderStack, path, expected):
    response = requests.get(two.url("app-a", path), headers=API, allow_redirects=False)
    assert response.status_code == expected


def test_group_rule_on_a_path(two: TwoProviderStack):
    staff = requests.Session()
    sign_in(staff, two.url("app-a", "/"), "alice", "test-password")
    assert staff.get(two.url("app-a", "/staff/x"), headers=API).status_code == 200
    carol = requests.Session()
    sign_in(carol, two.url("app-c", "/sso/login?login_hint=carol%40partner.example&rd=" +
                            two.url("app-c", "/")), "carol", "test-password")
    assert carol.get(two.url("app-a", "/staff/x"), headers=API,
                     allow_redirects=False).status_code in (401, 403)


def test_form_post_sign_in_in_a_real_browser(two: TwoProviderStack):
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(two.url("app-b", "/welcome"))
        assert page.url.startswith(two.partner.issuer)
        page.fill("input[name=login]", "carol")
        page.fill("input[name=password]", "test-password")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        if page.locator("input[name=prompt][value=consent]").count():
            page.click("button[type=submit]")
        page.wait_for_url(two.url("app-b", "/welcome"))
        screenshot(page, "form-post-signed-in")
        assert '"carol"' in page.inner_text("body")
    last = two.partner.last_auth_params()
    assert last["response_mode"] == "form_post"


def parked_form_posts(stack: Stack) -> list[tuple[str, bytes]]:
    """What the gateway parked for form_post callbacks (its SQLite store, read directly)."""
    from ssomw.oidc.flow import FORM_POST_PARKED as FORM_POST_NAMESPACE
    from ssomw.store.sqlite import SqliteStore

    store = SqliteStore(str(stack.workdir / "ssomw.db"))
    try:
        return store.kv_items(FORM_POST_NAMESPACE)
    finally:
        store.close()


def test_anonymous_form_post_callback_is_refused_and_parks_nothing(two: TwoProviderStack):
    """Issue 14, item 10: only a form_post flow begun here earns a parked response."""
    before = parked_form_posts(two)
    for fields in ({"code": "x" * 4000, "state": "made-up-state", "iss": two.partner.issuer},
                   {"code": "abc", "state": "made-up-state"}, {}):
        response = requests.post(two.url("app-b", "/sso/callback"), data=fields,
                                 allow_redirects=False, timeout=5)
        assert response.status_code == 400 and "Location" not in response.headers
        assert "text/html" in response.headers["Content-Type"]
    assert parked_form_posts(two) == before
    # A flow begun for the form_post provider: an oversized code is refused, the real answer
    # still parks (once), and the same state cannot park again.
    session = requests.Session()
    state = parse_qs(urlsplit(login_location(session, two, "app-b")).query)["state"][0]
    callback = two.url("app-b", "/sso/callback")
    assert session.post(callback, data={"code": "c" * 2049, "state": state},
                        allow_redirects=False, timeout=5).status_code == 400
    first = session.post(callback, data={"code": "abc", "state": state},
                         allow_redirects=False, timeout=5)
    assert first.status_code == 303 and "/sso/callback?resume=" in first.headers["Location"]
    assert len(parked_form_posts(two)) == len(before) + 1
    assert session.post(callback, data={"code": "abc", "state": state},
                        allow_redirects=False, timeout=5).status_code == 400


def test_choice_page_in_a_real_browser(two: TwoProviderStack):
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(two.url("app-c", "/sso/login") + "?rd=" + two.url("app-c", "/"))
        page.fill("input[name=email]", "x@unknown.example")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        screenshot(page, "choose-provider")
        choice = page.locator("a.choice", has_text="Test IdP")
        assert choice.count() == 1
        href = choice.get_attribute("href")
        assert parse_qs(urlsplit(href).query)["idp"] == ["idp"]
        choice.click()
        page.wait_for_load_state()
        assert page.url.startswith(two.provider.issuer)


@pytest.fixture(scope="module")
def refreshing(tmp_path_factory) -> Iterator[Stack]:
    # Access tokens live 63 s and are refreshed 60 s before expiry: every 3 s here.
    stack = start_stack(tmp_path_factory, "refresh", cache=False, provider_ttl={
        "AccessToken": 63}, overrides={"session": {"refresh_tokens": True}})
    yield stack
    stack.stop()


def test_concurrent_requests_during_refresh_see_no_logout(refreshing: Stack):
    import time
    from concurrent.futures import ThreadPoolExecutor

    session = requests.Session()
    assert sign_in(session, refreshing.url("app-a", "/"), "alice", "test-password").ok
    time.sleep(3.5)
    cookie = session.cookies.get("ssomw_session")

    def one(i: int) -> int:
        return requests.get(refreshing.url("app-a", f"/p{i}"), headers={
            **API, "Cookie": f"ssomw_session={cookie}"}).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(one, range(64)))
    assert statuses == [200] * 64
    assert refreshing.gateway.log_text().count("refreshed tokens") == 1


def test_refused_refresh_means_signing_in_again(refreshing: Stack):
    import time

    from ssomw.store.sqlite import SqliteStore

    session = requests.Session()
    assert sign_in(session, refreshing.url("app-a", "/"), "bob", "test-password").ok
    store = SqliteStore(str(refreshing.workdir / "ssomw.db"))  # as the gateway writes it
    for record in store.sessions_by_user("bob"):
        tokens = {**record.data["tokens"], "refresh_token": "revoked-or-garbage"}
        assert store.update_session_data(record.with_data(tokens=tokens))
    store.close()
    time.sleep(3.5)
    response = session.get(refreshing.url("app-a", "/"), headers=API, allow_redirects=False)
    assert response.status_code == 401
    assert USERS["bob"]["email"] not in response.text
