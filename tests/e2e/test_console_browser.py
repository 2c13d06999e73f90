"""The admin console in Chromium through nginx (contract §11): sign in as an admin at the real
provider, flip an app's SSO switch (by keyboard alone) and see nginx's answer change within
2 s, roll it back; force a user's logout and see their cookie refused within 1 s; a POST
without the CSRF token refused; axe on every page with no critical or serious finding; focus
visible on every control; the template editor's live preview under the real CSP. Screenshots
of each page go to tests/artifacts/console-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError

from tests.support.axe import axe_findings, describe
from tests.support.browser import (
    ARTIFACTS,
    browser_context,
    chromium_browser,
    provider_login,
    screenshot,
)

from .conftest import API, signed_in, start_stack, status
from .stack import Stack

pytestmark = pytest.mark.browser
ADMINS = {"admin": {"console": {"groups": ["app-b-users"]}}}  # alice is in it, bob is not


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory, "console", overrides=ADMINS)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as b:
        yield b


@contextmanager
def console(browser: Any, stack: Stack, user: str = "alice") -> Iterator[Any]:
    """A page signed in to the console as ``user`` through the provider's forms; on leaving,
    no console error (a CSP violation is one) was seen."""
    with browser_context(browser, viewport={"width": 1280, "height": 900}) as context:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                and not m.text.startswith("Failed to load resource") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(stack.url("app-a", "/sso/admin/"))
        assert page.url.startswith(stack.provider.issuer), page.url
        provider_login(page, user)
        yield page
        assert problems == [], problems


def anonymous(stack: Stack, app: str) -> int:
    return requests.get(stack.url(app, "/board"), headers=API, allow_redirects=False,
                        timeout=5).status_code


def until(check: Any, want: Any, within: float) -> float:
    """Seconds until ``check()`` returns ``want``; fails after ``within``."""
    started = time.monotonic()
    while (got := check()) != want:
        assert time.monotonic() - started < within, f"still {got!r} after {within} s"
        time.sleep(0.05)
    return time.monotonic() - started


def focus_visible(page: Any) -> str:
    """What the focused element is, after checking its focus ring can be seen."""
    state = page.evaluate("""() => { const e = document.activeElement;
        const s = getComputedStyle(e);
        return {tag: e.tagName, label: e.getAttribute('aria-label') || e.textContent.trim(),
                style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }""")
    if state["tag"] in ("BODY", "IFRAME"):
        return state["tag"]
    assert state["style"] != "none" and state["width"] >= 2, state
    return f"{state['tag']}:{state['label'][:60]}"


def tab_to(page: Any, wanted: str, limit: int = 80) -> None:
    """Press Tab until the focused element's name is ``wanted``, checking every stop's ring."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focus_visible(page).endswith(f":{wanted}"):
            return
    raise AssertionError(f"{wanted!r} cannot be reached with Tab")


def check_page(page: Any, name: str, heading: str) -> set[str]:
    """The page's heading, no critical/serious axe finding, a visible focus ring on every
    control reachable by Tab, and a screenshot."""
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text().startswith(heading), page.url
    assert page.inner_text(".who") == "Signed in as alice"
    findings = axe_findings(page)
    assert findings == [], f"{name}:\n{describe(findings)}"
    stops = set()
    page.locator("body").focus()
    for _ in range(250):
        page.keyboard.press("Tab")
        where = focus_visible(page)
        if where in stops or where == "BODY":
            break
        stops.add(where)
    assert len(stops) > 3, stops
    if page.locator("iframe").count():  # a full-page shot would leave the frame blank
        page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"))
    else:
        screenshot(page, f"console-{name}")
    return stops


def test_outsiders_get_403_and_anonymous_visitors_sign_in(browser: Any, stack: Stack) -> None:
    with console(browser, stack, "bob") as page:
        response = page.goto(stack.url("app-a", "/sso/admin/apps"))
        assert response is not None and response.status == 403
        assert "USER_NOT_ALLOWED" in page.inner_text("body")
    with console(browser, stack, "alice") as page:
        assert page.url == stack.url("app-a", "/sso/admin/")
        assert page.locator("h1").inner_text() == "Overview"


def test_the_sso_switch_by_keyboard_changes_nginx_within_2_s_and_rolls_back(
        browser: Any, stack: Stack) -> None:
    assert anonymous(stack, "app-b") == 401
    with console(browser, stack) as page:
        page.goto(stack.url("app-a", "/sso/admin/apps"))
        check_page(page, "apps", "Apps")
        page.locator("body").focus()
        tab_to(page, "SSO for app-b")
        assert page.get_attribute("[aria-label='SSO for app-b']", "aria-checked") == "true"
        with page.expect_navigation():
            page.keyboard.press("Space")
        check_page(page, "review", "Review: Turn SSO off for app-b")
        assert "gains access to" in page.inner_text("main").lower() or \
            "app-b" in page.inner_text("main")
        page.locator("body").focus()
        tab_to(page, "Apply as a new version")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        applied = time.monotonic()
        assert "is active: Turn SSO off for app-b" in page.inner_text("[role=status]")
        took = until(lambda: anonymous(stack, "app-b"), 200, 2.0 - (time.monotonic()
                                                                  - applied))
        print(f"SSO off at nginx after {time.monotonic() - applied:.2f} s ({took:.2f} s "
              "of polling)")
        assert page.get_attribute("[aria-label='SSO for app-b']", "aria-checked") == "false"

        page.goto(stack.url("app-a", "/sso/admin/versions"))
        check_page(page, "versions", "Configuration versions")
        page.click("text=Roll back to 1…")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Review: Roll back to version 1"
        page.click("text=Apply as a new version")
        page.wait_for_load_state()
        rolled = time.monotonic()
        until(lambda: anonymous(stack, "app-b"), 401, 2.0)
        print(f"SSO back on at nginx after {time.monotonic() - rolled:.2f} s")
        page.goto(stack.url("app-a", "/sso/admin/versions/diff?a=1&b=2"))
        check_page(page, "version-diff", "From version 1 to version 2")
        assert "+ apps[1].sso: false" in page.inner_text("pre")


def test_force_logout_is_refused_at_nginx_within_1_s(browser: Any, stack: Stack) -> None:
    bob = signed_in(stack, "bob")
    assert status(bob, stack) == 200
    with console(browser, stack) as page:
        page.goto(stack.url("app-a", "/sso/admin/sessions"))
        page.fill("#user", "bob")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        check_page(page, "sessions", "Sessions")
        page.click("text=End all sessions of bob…")
        page.wait_for_load_state()
        check_page(page, "confirm", "End all")  # bob signed in in an earlier test too
        assert page.locator("h1").inner_text().endswith("live session(s) of bob?")
        assert status(bob, stack) == 200, "asking ends nothing"
        page.click("button:text-is('End')")
        page.wait_for_load_state()
        ended = time.monotonic()
        until(lambda: status(bob, stack), 401, 1.0)
        print(f"bob refused at nginx after {time.monotonic() - ended:.2f} s")
        assert "session(s) of bob" in page.inner_text("[role=status]")
        page.goto(stack.url("app-a", "/sso/admin/audit?type=user_sessions_revoked"))
        check_page(page, "audit", "Audit log")
        assert "console:alice" in page.inner_text("table")


def test_a_post_without_the_csrf_token_is_refused(browser: Any, stack: Stack) -> None:
    """The browser posts the switch's form with its session cookies but without (or with a
    made-up) token, as a forged cross-site form would."""
    with console(browser, stack) as page:
        for token in (None, "guess"):
            page.goto(stack.url("app-a", "/sso/admin/apps"))
            with page.expect_navigation() as answer:
                page.evaluate("""token => {
                    const form = document.querySelector("form[action$='/apps/app-a/sso']");
                    form.querySelector("input[name=csrf]").remove();
                    if (token) {
                        const forged = document.createElement("input");
                        forged.type = "hidden"; forged.name = "csrf"; forged.value = token;
                        form.appendChild(forged);
                    }
                    form.submit(); }""", token)
            assert answer.value.status == 403
            assert "Nothing was changed" in page.inner_text("main")
    assert anonymous(stack, "app-a") == 401  # still protected: nothing changed


PAGES = [("overview", "/sso/admin/", "Overview"),
         ("app-edit", "/sso/admin/apps/app-b", "Edit app app-b"),
         ("providers", "/sso/admin/providers", "Providers"),
         ("groups", "/sso/admin/groups?user=alice", "Group mapping"),
         ("explain", "/sso/admin/explain?url=http%3A%2F%2Fapp-b.ssomw.localhost%2Fx&user=bob",
          "Explain a decision"),
         ("transfer", "/sso/admin/transfer", "Export and import"),
         ("templates", "/sso/admin/templates", "Pages and messages"),
         ("messages", "/sso/admin/templates/messages?lang=de", "Messages in de")]


def test_every_other_page_passes_axe_with_visible_focus(browser: Any, stack: Stack) -> None:
    with console(browser, stack) as page:
        for name, path, heading in PAGES:
            page.goto(stack.url("app-a", path))
            check_page(page, name, heading)
        page.goto(stack.url("app-a", "/sso/admin/providers"))
        assert "Yes" in page.inner_text("table")  # the provider answers right now
        page.goto(stack.url("app-a", "/sso/admin/explain?url=http%3A%2F%2Fapp-b.ssomw."
                            "localhost%2Fx&user=bob"))
        assert "Verdict: deny" in page.inner_text("main")


def test_the_template_editor_previews_live_in_the_sandbox(browser: Any, stack: Stack) -> None:
    with console(browser, stack) as page:
        page.goto(stack.url("app-a", "/sso/admin/templates/edit?name=logout"))
        frame = page.frame(name="preview")
        assert frame is not None
        frame.wait_for_selector("h1")
        assert frame.inner_text("h1") == "You are signed out"
        page.fill("#text", '{% extends "base.html" %}{% block content %}<h1>Bye for now, '
                  '{{ lang }}</h1>{% endblock %}')
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            frame = page.frame(name="preview")
            try:
                if frame is not None and "Bye for now, en" in frame.content():
                    break
            except PlaywrightError:  # the frame is loading the next preview
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("the preview did not follow the typing")
        styled = frame.evaluate("getComputedStyle(document.querySelector('.card'))"
                                ".borderTopWidth")
        assert styled == "4px", "the preview has the pages' stylesheet"
        check_page(page, "template-edit", "Template logout")
        page.click("text=Review and save as a new version")
        page.wait_for_load_state()
        check_page(page, "template-review", "Review: Save the logout template")
