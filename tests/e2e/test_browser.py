"""A real browser through the real chain: Chromium → nginx → gateway → oidc-provider."""

from __future__ import annotations

import json

import pytest

from tests.support.browser import (
    browser_context,
    chromium_browser,
    provider_login,
    provider_logout,
    screenshot,
)

from .stack import Stack

pytestmark = pytest.mark.browser


def echo(page) -> dict:
    return json.loads(page.inner_text("body"))


def test_browser_sign_in_headers_403_and_logout(stack: Stack):
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(stack.url("app-a", "/dashboard?tab=1"))
        assert page.url.startswith(stack.provider.issuer), page.url
        provider_login(page, "alice")
        assert page.url == stack.url("app-a", "/dashboard?tab=1")
        seen = {k.lower(): v for k, v in echo(page)["headers"].items()}
        assert seen["x-auth-request-user"] == "alice"
        assert seen["x-auth-request-groups"] == "app-b-users,staff"
        cookie = next(c for c in context.cookies() if c["name"] == "ssomw_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert cookie["domain"].lstrip(".") == "ssomw.localhost"

        page.goto(stack.url("app-b", "/"))  # the same session covers app B
        assert echo(page)["headers"]["X-Auth-Request-User"] == "alice"

        page.goto(stack.url("app-a", "/sso/logout"))  # asks first: a GET ends nothing
        screenshot(page, "logout-confirm")
        page.click("form[action$='/sso/logout'] button[type=submit]")
        page.wait_for_load_state()
        provider_logout(page)
        screenshot(page, "logged-out")
        assert "signed out" in page.inner_text("body").lower()
        page.wait_for_timeout(1100)  # let any nginx decision cache entry expire
        page.goto(stack.url("app-b", "/"))
        assert page.url.startswith(stack.provider.issuer), "app B asks for sign-in again"


def test_browser_user_outside_group_sees_the_403_page_and_clicks_sign_out(stack: Stack):
    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(stack.url("app-a", "/"))
        provider_login(page, "bob")
        response = page.goto(stack.url("app-b", "/"))
        assert response is not None and response.status == 403
        screenshot(page, "forbidden")
        assert "USER_NOT_ALLOWED" in page.inner_text("body")
        page.click("form[action$='/sso/logout'] button")  # the page's own sign-out button
        page.wait_for_load_state()
        provider_logout(page)  # the provider asks
        assert page.url.startswith(stack.provider.issuer), "on to a new sign-in for app B"
        page.wait_for_timeout(1100)  # let any nginx decision cache entry expire
        page.goto(stack.url("app-a", "/"))
        assert page.url.startswith(stack.provider.issuer), "app A asks for sign-in again"
