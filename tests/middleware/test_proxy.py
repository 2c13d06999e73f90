"""``X-Forwarded-*`` count only when the TCP peer is a configured proxy; the originals stay
under ``ssomw.proxy.orig``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from ssomw.core.networks import parse_networks
from ssomw.middleware.proxy import TrustedProxies

PROXY = "10.0.0.1"
FORWARDED = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7", "HTTP_X_FORWARDED_PROTO": "https",
             "HTTP_X_FORWARDED_HOST": "wiki.example.com"}


def seen_by_app(peer: str, trusted: list[str]) -> dict[str, Any]:
    """The environ the wrapped app receives for a request from ``peer`` with FORWARDED."""
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.update(environ)
        return [b""]

    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": "http", "HTTP_HOST": "gw:4180",
               **FORWARDED}
    TrustedProxies(app, parse_networks(trusted))(environ, lambda *a: None)
    return seen


def test_a_trusted_peer_passes_on_client_scheme_and_host_and_keeps_the_originals():
    environ = seen_by_app(PROXY, [f"{PROXY}/32"])
    assert environ["REMOTE_ADDR"] == "203.0.113.7"  # the hop the proxy saw, not the client's
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["HTTP_HOST"] == "wiki.example.com"
    assert environ["ssomw.proxy.orig"] == {"REMOTE_ADDR": PROXY, "wsgi.url_scheme": "http",
                                           "HTTP_HOST": "gw:4180"}


@pytest.mark.parametrize("trusted", [
    pytest.param([], id="none-configured"),
    pytest.param(["192.168.0.0/16"], id="peer-not-listed"),
])
def test_an_untrusted_peer_changes_nothing(trusted):
    environ = seen_by_app(PROXY, trusted)
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"], environ["HTTP_HOST"]) == (
        PROXY, "http", "gw:4180")
    assert "ssomw.proxy.orig" not in environ


def test_client_ip_leaves_the_environ_alone():
    environ = {"REMOTE_ADDR": PROXY, **FORWARDED}
    before = dict(environ)
    assert TrustedProxies(None, parse_networks([f"{PROXY}/32"])).client_ip(environ) == (
        "203.0.113.7")
    assert environ == before
