"""The gateway's pages as users meet them: Chromium → nginx → gateway → oidc-provider
(issue 16 items 7 and 14). What the 403 page says to whom and where its buttons lead, the
404 of an unknown /sso/ path, the pages' own icon, the emergency form's focus."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from argon2 import PasswordHasher

from tests.support.browser import (
    browser_context,
    chromium_browser,
    provider_login,
    provider_logout,
    screenshot,
)

from .conftest import start_stack
from .stack import REPO, Stack

pytestmark = pytest.mark.browser

FORGOTTEN = "forgotten.ssomw.localhost"  # nginx protects it, but no app lists it
EMERGENCY_PATH = "/sso/break-glass-pages-0123456789abcdef"
ADMIN_PASSWORD = "pages-admin-password"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


class PagesStack(Stack):
    """app-a with a `deny` rule, app-b for app-b-users only, the emergency login, and a host
    that nginx protects with the shipped snippets but the gateway's config never names."""

    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        config["emergency"] = {
            "enabled": True, "path": EMERGENCY_PATH, "allowed_groups": ["sso-admins"],
            "credentials": "local", "max_lifetime": "1h",
            "local_users": [{"username": "admin", "hash": CHEAP.hash(ADMIN_PASSWORD)}]}
        return config

    def apps_config(self) -> list[dict[str, Any]]:
        apps = super().apps_config()
        apps[0]["rules"] = [{"paths": ["^/public/"], "policy": "bypass"},
                            {"paths": ["^/admin/"], "policy": "deny"}]
        return apps

    def nginx_conf(self) -> str:
        return super().nginx_conf() + f"""
server {{
    listen 127.0.0.1:{self.port};
    server_name {FORGOTTEN};
    include {REPO}/nginx/ssomw-server.conf;
    location / {{
        include {REPO}/nginx/ssomw-protect.conf;
        proxy_pass {self.apps["app-a"].url};
    }}
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PagesStack]:
    s = start_stack(tmp_path_factory, "pages", PagesStack)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with browser_context(browser) as context:
        yield context.new_page()


def card(page: Any) -> str:
    return page.inner_text("main")


def buttons(page: Any) -> dict[str, str | None]:
    """The 403 page's ways out: accessible name -> href (None for the sign-out form)."""
    found: dict[str, str | None] = {}
    for link in page.locator("main .actions a").all():
        found[link.inner_text()] = link.get_attribute("href")
    for button in page.locator("main .actions form button").all():
        found[button.inner_text()] = None
    return found


def test_anonymous_at_a_host_no_app_names_is_not_told_they_are_signed_in(stack, page):
    response = page.goto(f"http://{FORGOTTEN}:{stack.port}/")
    assert response is not None and response.status == 403
    text = card(page)
    assert "You are signed in" not in text and "You are not signed in." in text
    assert "HOST_NOT_CONFIGURED" in text and "not set up for single sign-on" in text
    assert buttons(page) == {}  # "/" here is refused too, and no other account would help
    screenshot(page, "chain-403-unknown-host")


def test_anonymous_at_a_deny_rule_gets_a_way_back_that_is_not_the_same_page(stack, page):
    response = page.goto(stack.url("app-a", "/admin/users"))
    assert response is not None and response.status == 403
    text = card(page)
    assert "PATH_DENIED" in text and "You are not signed in." in text
    assert buttons(page) == {"Back to the start page": "/"}
    page.click("text=Back to the start page")
    page.wait_for_load_state()
    assert page.url.startswith(stack.provider.issuer), "the start page asks for sign-in"


def test_sign_in_as_someone_else_ends_at_a_sign_in_for_the_app(stack, page):
    page.goto(stack.url("app-b", "/board"))
    provider_login(page, "bob")
    assert page.url == stack.url("app-b", "/board")
    assert page.title() == "Access denied"
    text = card(page)
    assert "USER_NOT_ALLOWED" in text and "You are signed in as bob." in text
    assert buttons(page) == {"Sign in as someone else": None}  # app B's "/" refuses bob too
    screenshot(page, "chain-403-user-not-allowed")
    page.click("text=Sign in as someone else")
    page.wait_for_load_state()
    provider_logout(page)
    assert page.url.startswith(stack.provider.issuer), page.url
    assert page.locator("input[name=login]").count() == 1, "a sign-in, not 'signed out'"
    provider_login(page, "alice")
    assert page.url == stack.url("app-b", "/")
    assert '"X-Auth-Request-User": "alice"' in page.inner_text("body")


def test_an_unknown_gateway_path_is_page_not_found(stack, page):
    response = page.goto(stack.url("app-a", "/sso/no-such-page"))
    assert response is not None and response.status == 404
    assert page.title() == "Page not found"
    assert page.locator("h1").inner_text() == "Page not found"
    assert "Sign-in problem" not in page.inner_text("body")


def test_the_pages_bring_their_own_icon(stack, page):
    log = stack.nginx.access_log_path
    logged = log.stat().st_size
    asked: list[tuple[str, int]] = []
    page.on("response", lambda r: asked.append((r.url, r.status)))
    page.goto(stack.url("app-a", "/sso/no-such-page"))
    page.wait_for_load_state("networkidle")
    assert [s for u, s in asked if u.endswith("/favicon.svg")] == [200], asked
    assert not [u for u, _ in asked if u.endswith("/favicon.ico")], asked
    with log.open() as lines:
        lines.seek(logged)
        assert "/favicon.ico" not in lines.read(), "no icon request reaches the protected app"
    fetched = requests.get(stack.url("app-a", "/sso/static/favicon.svg"), timeout=5)
    assert fetched.headers["Content-Type"].startswith("image/svg+xml")


def test_after_a_failed_emergency_login_the_password_has_the_focus(stack, page):
    page.goto(stack.url("app-a", EMERGENCY_PATH))
    assert page.evaluate("document.activeElement.id") == "username"
    page.fill("#username", "admin")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.get_by_role("alert").is_visible()
    assert page.evaluate("document.activeElement.id") == "password"
    assert page.locator("#username").input_value() == "admin"
    screenshot(page, "chain-emergency-failed")
