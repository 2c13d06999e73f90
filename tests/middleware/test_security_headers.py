"""Security headers on the gateway's own pages, and which origins a page's CSP lets its forms
post to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from ssomw.middleware.security_headers import CSP, SecurityHeaders, origin_of, page_csp


def page(headers: list[tuple[str, str]]) -> Any:
    """A WSGI app answering 200 with exactly these headers."""
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", list(headers))
        return [b"page"]
    return app


def test_a_plain_page_gets_every_header_and_no_store():
    response = Client(SecurityHeaders(page([("Content-Type", "text/html")]))).get("/")
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_page_with_its_own_csp_and_cache_control_keeps_them_and_may_be_framed():
    """The front-channel logout iframe sets its own frame-ancestors: X-Frame-Options: DENY
    would contradict it."""
    own = [("Content-Security-Policy", "frame-ancestors https://idp.example.com"),
           ("Cache-Control", "private, max-age=5")]
    response = Client(SecurityHeaders(page(own))).get("/")
    assert response.headers.getlist("Content-Security-Policy") == [
        "frame-ancestors https://idp.example.com"]
    assert "X-Frame-Options" not in response.headers
    assert response.headers.getlist("Cache-Control") == ["private, max-age=5"]
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(("url", "origin"), [
    pytest.param("https://idp.example.com/logout?x=1", "https://idp.example.com", id="https"),
    pytest.param("http://[::1]:8080/end", "http://[::1]:8080", id="ipv6-port"),
    pytest.param("/relative", None, id="relative-is-self"),
    pytest.param("javascript:alert(1)", None, id="script"),
    pytest.param("https://a.example;script-src *", None, id="csp-injection"),
    pytest.param("https://user:pw@idp.example.com/", None, id="userinfo"),
])
def test_only_plain_origins_reach_form_action(url, origin):
    assert origin_of(url) == origin
    assert "script-src" not in page_csp([url])
