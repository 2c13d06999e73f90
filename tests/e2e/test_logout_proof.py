"""A sign-out must be asked for (issue 14, items 7 and 8), through the real chain.

GET /sso/logout only shows a confirmation; a POST without the session's token ends nothing;
the confirmation's POST, or the session's own ID token as id_token_hint, ends it. Front-channel
logout with the browser's cookie ends that browser's session only; without one, every session
of the sid (the trade-off the README documents).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from ssomw.store import open_store
from ssomw.store.base import SessionRecord
from tests.support.browser import browser_context, chromium_browser, provider_login, screenshot
from tests.support.signin import gateway_logout, provider_logout, sign_in

from .conftest import API, signed_in, start_stack, status
from .stack import Stack
from .test_browser import echo

EVIL = "http://evil.example/"  # another site; served by the browser test itself


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory, "logout-proof",
                    provider_settings={"logout": {"frontchannel": True}})
    yield s
    s.stop()


def session_of(stack: Stack, http: requests.Session) -> SessionRecord:
    """The gateway's record behind this client's cookie."""
    cookie = http.cookies.get("ssomw_session")
    store = open_store(stack.config()["store"])
    return next(r for r in store.all_sessions() if cookie.startswith(r.id + "."))


def auth_status(stack: Stack, http: requests.Session) -> int:
    """/sso/auth asked directly (past nginx's decision cache) for this client's cookie."""
    return requests.get(f"{stack.gateway.url}/sso/auth", headers={
        "X-Original-URL": stack.url("app-a", "/x"),
        "Cookie": f"ssomw_session={http.cookies.get('ssomw_session')}", **API}).status_code


def test_a_cross_site_get_or_tokenless_post_ends_nothing(stack: Stack):
    alice = signed_in(stack)
    page = alice.get(stack.url("app-a", "/sso/logout"), allow_redirects=False,
                     headers={"Referer": EVIL, "Sec-Fetch-Site": "cross-site"})
    assert page.status_code == 200 and "Sign out of every application?" in page.text
    forged = alice.post(stack.url("app-a", "/sso/logout"), allow_redirects=False,
                        data={"rd": stack.url("app-a", "/")}, headers={"Origin": EVIL[:-1]})
    assert forged.status_code == 400 and "Sign out of every application?" in forged.text
    assert auth_status(stack, alice) == 200 and status(alice, stack) == 200
    ended = gateway_logout(alice, stack.url("app-a", "/sso/logout"), allow_redirects=False)
    assert ended.status_code == 302 and ended.headers["Location"].startswith(
        stack.provider.issuer)
    assert auth_status(stack, alice) == 401
    time.sleep(1.1)  # nginx's decision cache holds an answer for at most a second
    assert status(alice, stack) == 401


def test_the_sessions_id_token_as_hint_ends_it_directly(stack: Stack):
    alice = signed_in(stack)
    record = session_of(stack, alice)
    wrong = alice.get(stack.url("app-a", "/sso/logout"), allow_redirects=False,
                      params={"id_token_hint": record.data["id_token"] + "x"})
    assert wrong.status_code == 200 and auth_status(stack, alice) == 200
    right = alice.get(stack.url("app-a", "/sso/logout"), allow_redirects=False,
                      params={"id_token_hint": record.data["id_token"]})
    assert right.status_code == 302 and auth_status(stack, alice) == 401
    assert provider_logout(alice, right.headers["Location"]).status_code == 200


def test_browser_from_another_site_cannot_sign_out_but_the_user_can(stack: Stack):
    with chromium_browser() as browser, browser_context(browser) as context:
        logout = stack.url("app-a", "/sso/logout")
        context.route(EVIL + "**", lambda route: route.fulfill(content_type="text/html", body=(
            f'<a id="get" href="{logout}">win a prize</a>'
            f'<form id="post" method="post" action="{logout}"><button>go</button></form>')))
        page = context.new_page()
        page.goto(stack.url("app-a", "/"))
        provider_login(page, "alice")
        assert echo(page)["headers"]["X-Auth-Request-User"] == "alice"
        for how in ("#get", "#post button"):  # a link, and a form without the token
            page.goto(EVIL)
            page.click(how)
            page.wait_for_load_state()
            page.goto(stack.url("app-a", f"/after{how[1:4]}"))
            assert echo(page)["headers"]["X-Auth-Request-User"] == "alice", how
        page.goto(logout)
        screenshot(page, "logout-confirm-browser")
        page.click("form[action$='/sso/logout'] button[type=submit]")  # the user's own click
        page.wait_for_load_state()
        if page.locator("button[value=yes], button[name=logout]").count():
            page.click("button[value=yes], button[name=logout]")  # the provider asks
            page.wait_for_load_state()
        assert "signed out" in page.inner_text("body").lower()
        page.wait_for_timeout(1100)
        page.goto(stack.url("app-a", "/"))
        assert page.url.startswith(stack.provider.issuer)


def two_sessions_of_one_sid(stack: Stack) -> tuple[requests.Session, requests.Session, str]:
    """alice signed in twice at the gateway during one provider session (same ``sid``)."""
    laptop = signed_in(stack)
    phone = requests.Session()
    phone.cookies.update({c.name: c.value for c in laptop.cookies
                          if c.name != "ssomw_session"})  # the provider's session cookies
    assert sign_in(phone, stack.url("app-a", "/"), "alice", "test-password").status_code == 200
    sid = session_of(stack, laptop).sid
    assert sid and session_of(stack, phone).sid == sid
    assert session_of(stack, phone).id != session_of(stack, laptop).id
    return laptop, phone, sid


def frontchannel(stack: Stack, http, sid: str) -> requests.Response:  # noqa: ANN001
    return http.get(stack.url("app-a", "/sso/frontchannel-logout"),
                    params={"iss": stack.provider.issuer, "sid": sid})


def test_frontchannel_with_the_cookie_ends_only_that_browsers_session(stack: Stack):
    laptop, phone, sid = two_sessions_of_one_sid(stack)
    bob = signed_in(stack, "bob")
    assert frontchannel(stack, bob, sid).status_code == 200  # bob's cookie, alice's sid
    assert auth_status(stack, laptop) == auth_status(stack, phone) == 200
    assert frontchannel(stack, laptop, sid).status_code == 200
    assert auth_status(stack, laptop) == 401
    assert auth_status(stack, phone) == 200 and auth_status(stack, bob) == 200


def test_frontchannel_without_a_cookie_ends_every_session_of_the_sid(stack: Stack):
    laptop, phone, sid = two_sessions_of_one_sid(stack)
    assert frontchannel(stack, requests, sid).status_code == 200
    assert auth_status(stack, laptop) == auth_status(stack, phone) == 401
