"""Debian's Chromium driven by Playwright (sync API), kept off the internet.

Playwright's own browser download does not work here, so we launch /usr/bin/chromium. Chromium
resolves `*.localhost` to loopback by itself; every other name fails at once
(`--host-resolver-rules`), so pages that reference web fonts or CDNs do not wait on the network.
Each `browser.new_context()` is a fresh, isolated profile (no cookies shared between contexts).

    with chromium_browser() as browser, browser_context(browser) as context:
        page = context.new_page()
        page.goto(f"http://app-a.ssomw.localhost:{port}/")
        screenshot(page, "app-a-home")
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DEFAULT_TIMEOUT_MS = 10_000

LAUNCH_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE *.localhost, EXCLUDE 127.0.0.1",
]


def launch_args() -> list[str]:
    """Chromium flags; --no-sandbox only when running as root (CI), where it is required."""
    return (["--no-sandbox"] if os.geteuid() == 0 else []) + LAUNCH_ARGS


@contextmanager
def chromium_browser(headless: bool = True) -> Iterator[Browser]:
    """Start Playwright and Chromium; both are shut down on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=headless, args=launch_args()
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browser_context(browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    """A fresh browser profile (own cookies and storage) with a 10 s default timeout."""
    context = browser.new_context(**options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


def provider_login(page: Page, user: str, password: str = "test-password") -> None:
    """Fill the test provider's login form (tests/oidc-provider), then its consent form if it
    shows one, as a user does. The field names are the ones tests/support/signin.py posts."""
    page.fill("input[name=login]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if page.locator("form input[name=prompt][value=consent]").count():
        page.click("button[type=submit]")
        page.wait_for_load_state()


def provider_logout(page: Page) -> None:
    """Answer the test provider's "sign out?" question with yes, when it asks."""
    if page.locator("button[value=yes], button[name=logout]").count():
        page.click("button[value=yes], button[name=logout]")
        page.wait_for_load_state()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under tests/artifacts/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
