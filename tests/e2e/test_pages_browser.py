"""Every default page, and a customised one, in real Chromium under the real CSP.

The pages are rendered by :class:`ssomw.pages.templating.Pages` and served with the gateway's own
``SecurityHeaders`` middleware and stylesheet from a small in-process server, so what is
checked is what a browser makes of them: the stylesheet loads under ``style-src 'self'``, no
CSP violation is reported, the forms have labelled fields, phones get no sideways scrolling,
keyboard focus is visible. Screenshots (desktop and phone) are kept under tests/artifacts/.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from ssomw.middleware.security_headers import SecurityHeaders
from ssomw.pages.templating import Pages
from tests.support.browser import browser_context, chromium_browser, screenshot

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "ssomw" / "pages" / "static"
LOGO = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
    b'<rect width="32" height="32" rx="8" fill="#0b57d0"/>'
    b'<path d="M9 17l5 5 9-11" stroke="#fff" stroke-width="3" fill="none"/></svg>').decode()
CUSTOM = {
    "brand": {"name": "Example Corp", "logo_url": LOGO},
    "support": {"email": "help@example.com", "url": "https://help.example.com",
                "text": "IT service desk, extension 1234"},
    "apps": {"intranet": {"forbidden": {"inline": (
        '{% extends "base.html" %}{% block card_class %}card-forbidden{% endblock %}'
        '{% block title %}{{ t("forbidden.title") }} – {{ app.name }}{% endblock %}'
        '{% block content %}<h1>{{ app.name }}: {{ t("forbidden.title") }}</h1>'
        '<p class="message">{{ message }}</p><p class="meta">{{ t("error.code") }} '
        '<code>{{ code }}</code></p><p class="actions"><a class="button" '
        'href="https://intranet.example.com/request-access">Request access</a></p>'
        '{% endblock %}')}}},
    "messages": {"en": {"USER_NOT_ALLOWED": "Only members of the Intranet group can open "
                        "this application."}},
}
CHOICES = [("corp", "Example Corp account", "/sso/login?idp=corp"),
           ("partner", "Partner login", "/sso/login?idp=partner")]
CONTEXT: dict[str, dict[str, Any]] = {
    "error": {"code": "PROVIDER_UNAVAILABLE", "status": 503, "request_id": "5f0c2a9e81d4b7c3"},
    "forbidden": {"code": "USER_NOT_ALLOWED", "status": 403, "request_id": "5f0c2a9e81d4b7c3",
                  "user": "bob", "logout_csrf": "csrf-token", "start": "/wiki",
                  "switch_rd": "/sso/login?rd=%2Fwiki"},
    "logout": {},
    "logout_confirm": {"csrf": "csrf-token", "rd": "/dashboard", "action": "/sso/logout",
                       "user": "alice", "cancel": "/dashboard"},
    "choose_provider": {"choices": CHOICES},
    "email": {"csrf": "csrf-token", "rd": "/dashboard"},
    "emergency": {"csrf": "csrf-token", "rd": "/", "action": "/sso/emergency", "error": True,
                  "username": "admin"},
}


class PageServer:
    """``/<variant>/<page>?app=ID`` renders a page; ``/sso/static/*`` serves the stylesheet."""

    def __init__(self) -> None:
        names = {"intranet": "Intranet"}
        self.variants = {"default": Pages({}, app_names=names),
                         "custom": Pages(CUSTOM, app_names=names)}
        self.server = make_server("127.0.0.1", 0, SecurityHeaders(self.app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if parts[:2] == ["sso", "static"] and parts[2:] == ["ssomw.css"]:
            response = Response((STATIC / "ssomw.css").read_bytes(), mimetype="text/css")
        elif len(parts) == 2 and parts[0] in self.variants and parts[1] in CONTEXT:
            pages = self.variants[parts[0]]
            query = parse_qs(request.query_string.decode())
            html = pages.render(parts[1], app_id=query.get("app", [None])[0],
                                lang=pages.negotiate(request.headers.get("Accept-Language")),
                                **CONTEXT[parts[1]])
            response = Response(html, status=CONTEXT[parts[1]].get("status", 200),
                                mimetype="text/html")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)


@pytest.fixture(scope="module")
def server() -> Iterator[PageServer]:
    s = PageServer()
    s.thread.start()
    try:
        yield s
    finally:
        s.server.shutdown()
        s.thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as b:
        yield b


VIEWPORTS = {"desktop": {"viewport": {"width": 1280, "height": 800}},
             "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
                       "is_mobile": True, "has_touch": True}}


@contextmanager
def open_page(browser: Any, url: str, viewport: str, lang: str = "en-US") -> Iterator[Any]:
    """The page at ``url``; on leaving, no console error (a CSP violation is one) was seen."""
    with browser_context(browser, locale=lang, **VIEWPORTS[viewport]) as context:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                and not m.text.startswith("Failed to load resource") else None)  # 4xx/5xx
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url)
        page.wait_for_load_state("networkidle")
        yield page
        assert problems == [], problems  # e.g. "Applying inline style violates … CSP"


def check_common(page: Any, title: str, h1: str) -> None:
    assert page.title() == title
    assert page.locator("h1").inner_text() == h1
    body = page.inner_text("body")
    for leftover in ("{{", "{%", "Traceback", "Undefined", "page.title", "error."):
        assert leftover not in body
    styled = page.evaluate("getComputedStyle(document.querySelector('.card')).borderTopWidth")
    assert styled == "4px", "the stylesheet was applied"
    scroll = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert scroll <= 0, "no sideways scrolling"


EXPECTED = {  # page: (title, h1, check)
    "error": ("Sign-in problem", "Sign-in problem", "PROVIDER_UNAVAILABLE"),
    "forbidden": ("Access denied", "Access denied", "USER_NOT_ALLOWED"),
    "logout": ("Signed out", "You are signed out", "Sign in again"),
    "logout_confirm": ("Sign out", "Sign out of every application?",
                       "You are signed in as alice."),
    "choose_provider": ("Choose how to sign in", "Choose how to sign in", "Partner login"),
    "email": ("Sign in", "Sign in", "Continue"),
    "emergency": ("Emergency sign-in", "Emergency sign-in", "Sign-in failed."),
}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("name", list(EXPECTED))
def test_default_page(server, browser, name, viewport):
    title, h1, text = EXPECTED[name]
    with open_page(browser, f"{server.url}/default/{name}", viewport) as page:
        check_common(page, title, h1)
        assert text in page.inner_text("body")
        assert page.locator("html").get_attribute("lang") == "en"
        if name == "email":
            field = page.get_by_label("E-mail address")
            assert field.get_attribute("type") == "email" and field.get_attribute("required") \
                is not None
            assert page.locator("input[type=hidden][name=csrf]").get_attribute("value") == \
                "csrf-token"
        if name == "emergency":
            assert page.get_by_label("Username").get_attribute("autocomplete") == "username"
            assert page.get_by_label("Password").get_attribute("type") == "password"
            assert page.locator("input[type=hidden][name=csrf]").count() == 1
            assert page.get_by_role("alert").is_visible()
            # after a failed attempt the name stays filled in: the password is next
            assert page.evaluate("document.activeElement.id") == "password"
        if name == "logout_confirm":
            assert page.locator("form[method=post] input[name=csrf]").get_attribute(
                "value") == "csrf-token"
            assert page.get_by_role("button", name="Sign out").is_visible()
        if name == "forbidden":  # "sign in as someone else" is a POST form, not a link
            assert page.locator("form[method=post] button").inner_text() == \
                "Sign in as someone else"
            assert page.locator("form[method=post] input[name=rd]").get_attribute("value") == \
                "/sso/login?rd=%2Fwiki"
            assert "You are signed in as bob." in page.inner_text("main")
        if name == "choose_provider":  # the decorative › is no part of a button's name
            tree = page.locator("ul.choices").aria_snapshot()
            assert "\u203a" not in tree and "›" not in tree, tree
            for choice in CHOICES:
                assert page.get_by_role("link", name=choice[1], exact=True).count() == 1
        screenshot(page, f"page-{name}-{viewport}")


def test_keyboard_focus_is_visible(server, browser):
    with open_page(browser, f"{server.url}/default/forbidden", "desktop") as page:
        page.keyboard.press("Tab")
        outline = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                                " return [document.activeElement.textContent.trim(),"
                                " s.outlineStyle, s.outlineWidth]; })()")
        assert outline == ["Back to the start page", "solid", "3px"]
        screenshot(page, "page-forbidden-focus")


def test_german_page(server, browser):
    with open_page(browser, f"{server.url}/default/email", "phone", lang="de-CH") as page:
        check_common(page, "Anmelden", "Anmelden")
        assert page.locator("html").get_attribute("lang") == "de"
        assert page.get_by_label("E-Mail-Adresse").count() == 1
        screenshot(page, "page-email-phone-de")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_customised_page(server, browser, viewport):
    url = f"{server.url}/custom/forbidden?app=intranet"
    with open_page(browser, url, viewport) as page:
        check_common(page, "Access denied – Intranet · Example Corp", "Intranet: Access denied")
        body = page.inner_text("body")
        assert "Only members of the Intranet group" in body and "USER_NOT_ALLOWED" in body
        assert "IT service desk, extension 1234" in body
        assert page.get_by_role("link", name="help@example.com").get_attribute("href") == \
            "mailto:help@example.com"
        assert page.locator(".brand-name").inner_text() == "Example Corp"
        assert page.evaluate("document.querySelector('.brand-logo').naturalWidth") == 32
        screenshot(page, f"page-custom-forbidden-{viewport}")
