"""Navigation or script/API call, with header sets real clients send."""

from __future__ import annotations

import pytest

from ssomw.core.request_kind import is_navigation

CHROMIUM_HTML = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                 "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
FIREFOX_HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
JQUERY_JSON = "application/json, text/javascript, */*; q=0.01"
IMAGE = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"

# (method, accept, x-requested-with, sec-fetch-mode, sec-fetch-dest)
CASES = [
    pytest.param("GET", CHROMIUM_HTML, None, "navigate", "document", True,
                 id="chromium-address-bar"),
    pytest.param("GET", CHROMIUM_HTML, None, "navigate", "iframe", True, id="chromium-iframe"),
    pytest.param("GET", FIREFOX_HTML, None, "navigate", "document", True, id="firefox-link"),
    pytest.param("GET", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                 None, None, None, True, id="old-safari-no-sec-fetch"),
    pytest.param("HEAD", FIREFOX_HTML, None, "navigate", "document", True, id="head"),
    pytest.param("get", FIREFOX_HTML, None, "Navigate", "Document", True, id="case-insensitive"),
    pytest.param("GET", "*/*", None, None, None, True, id="curl-default"),
    pytest.param("GET", None, None, None, None, True, id="no-accept"),
    pytest.param("GET", "", None, None, None, True, id="empty-accept"),
    pytest.param("GET", "text/html;level=1", None, None, None, True, id="html-with-params"),
    pytest.param("GET", "TEXT/HTML", None, None, None, True, id="accept-case"),
    pytest.param("GET", "text/html;q=oops", None, None, None, True, id="malformed-q"),
    pytest.param("GET", "*/*", None, "cors", "empty", False, id="fetch-default"),
    pytest.param("GET", "application/json", None, "cors", "empty", False, id="fetch-json"),
    pytest.param("GET", "*/*", None, "same-origin", "empty", False, id="fetch-same-origin"),
    pytest.param("GET", JQUERY_JSON, "XMLHttpRequest", "cors", "empty", False, id="jquery-xhr"),
    pytest.param("GET", JQUERY_JSON, "XMLHttpRequest", None, None, False,
                 id="xhr-header-alone"),
    pytest.param("GET", "*/*", "xmlhttprequest", None, None, False, id="xhr-header-case"),
    pytest.param("GET", IMAGE, None, "no-cors", "image", False, id="img-tag"),
    pytest.param("GET", "*/*", None, "no-cors", "script", False, id="script-tag"),
    pytest.param("GET", "text/css,*/*;q=0.1", None, "no-cors", "style", False, id="stylesheet"),
    pytest.param("GET", "*/*", None, "websocket", "websocket", False, id="websocket"),
    pytest.param("GET", "*/*", None, None, "empty", False, id="dest-empty-alone"),
    pytest.param("GET", "application/json", None, None, None, False, id="api-client-json"),
    pytest.param("GET", "application/vnd.github+json", None, None, None, False,
                 id="api-vendor-json"),
    pytest.param("GET", "text/html;q=0", None, None, None, False, id="html-refused-q0"),
    pytest.param("GET", "text/html;q=0, */*;q=0", None, None, None, False, id="all-refused"),
    pytest.param("GET", "text/*", None, None, None, False, id="text-star-not-enough"),
    pytest.param("POST", FIREFOX_HTML, None, "navigate", "document", False,
                 id="form-post-keeps-body"),
    pytest.param("PUT", "*/*", None, None, None, False, id="put"),
    pytest.param("DELETE", None, None, None, None, False, id="delete"),
    pytest.param("", None, None, None, None, False, id="empty-method"),
]


@pytest.mark.parametrize(("method", "accept", "xrw", "mode", "dest", "expected"), CASES)
def test_is_navigation(method: str, accept: str | None, xrw: str | None, mode: str | None,
                       dest: str | None, expected: bool) -> None:
    assert is_navigation(method, accept, xrw, mode, dest) is expected
