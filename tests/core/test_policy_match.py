"""Which app serves a request: hosts (exact, wildcard), path prefixes, ties, unknown hosts."""

from __future__ import annotations

import pytest

from ssomw.core.policy import Policy
from ssomw.core.redirects import host_matches

POLICY = Policy.build([
    {"id": "jira", "hosts": ["jira.example.com", "*.jira.example.com"]},
    {"id": "wiki", "hosts": ["intranet.example.com"], "path_prefix": "/wiki"},
    {"id": "wiki-api", "hosts": ["intranet.example.com"], "path_prefix": "/wiki/api/"},
    {"id": "intranet", "hosts": ["intranet.example.com"]},
    {"id": "any-sub", "hosts": ["*.example.com"]},
    {"id": "any-sub-static", "hosts": ["*.example.com"], "path_prefix": "/static"},
    {"id": "team-sub", "hosts": ["*.team.example.com"]},
    {"id": "idn", "hosts": ["bücher.example"]},
    {"id": "local", "hosts": ["127.0.0.1", "[::1]"]},
])


@pytest.mark.parametrize(("host", "path", "expected"), [
    pytest.param("jira.example.com", "/", "jira", id="exact-host-beats-wildcard"),
    pytest.param("JIRA.Example.COM", "/browse/X-1", "jira", id="host-case"),
    pytest.param("jira.example.com:8443", "/", "jira", id="host-port"),
    pytest.param("eu.jira.example.com", "/", "jira", id="own-wildcard"),
    pytest.param("intranet.example.com", "/", "intranet", id="root-prefix"),
    pytest.param("intranet.example.com", "/wiki", "wiki", id="prefix-exact"),
    pytest.param("intranet.example.com", "/wiki/", "wiki", id="prefix-slash"),
    pytest.param("intranet.example.com", "/wiki/Main_Page", "wiki", id="prefix-below"),
    pytest.param("intranet.example.com", "/wikipedia", "intranet", id="prefix-segment-boundary"),
    pytest.param("intranet.example.com", "/wiki/api", "wiki-api", id="longest-prefix"),
    pytest.param("intranet.example.com", "/wiki/api/v1", "wiki-api", id="longest-prefix-below"),
    pytest.param("intranet.example.com", "/wiki/apis", "wiki", id="longest-prefix-boundary"),
    pytest.param("intranet.example.com", "/wiki?x=1", "wiki", id="query-ignored"),
    pytest.param("intranet.example.com", "/x/../wiki/a", "wiki", id="dot-segments-nginx-reading"),
    pytest.param("intranet.example.com", "//wiki/a", "wiki", id="merged-slashes"),
    pytest.param("intranet.example.com", "/%77iki/a", "wiki", id="percent-decoded"),
    pytest.param("intranet.example.com", "/static/app.js", "any-sub-static",
                 id="longer-prefix-beats-exact-host"),
    pytest.param("mail.example.com", "/", "any-sub", id="wildcard"),
    pytest.param("a.b.example.com", "/", "any-sub", id="wildcard-deep"),
    pytest.param("x.team.example.com", "/", "team-sub", id="longer-wildcard-wins"),
    pytest.param("mail.example.com", "/static/x", "any-sub-static", id="wildcard-prefix"),
    pytest.param("xn--bcher-kva.example", "/", "idn", id="idn-ace-form"),
    pytest.param("BÜCHER.example", "/", "idn", id="idn-unicode-form"),
    pytest.param("127.0.0.1:8080", "/", "local", id="ipv4"),
    pytest.param("[::1]:8080", "/", "local", id="ipv6"),
    pytest.param("example.com", "/", None, id="apex-not-wildcard"),
    pytest.param("jira.example.org", "/", None, id="unknown-host"),
    pytest.param("jira.example.com.evil.com", "/", None, id="lookalike"),
    pytest.param("jira.example.com.", "/", None, id="trailing-dot"),
    pytest.param("", "/", None, id="empty-host"),
    pytest.param("jira example.com", "/", None, id="garbage-host"),
    pytest.param("jira.example.com:x", "/", None, id="bad-port"),
])
def test_match_app(host: str, path: str, expected: str | None) -> None:
    app = POLICY.match_app(host, path)
    assert (app.id if app else None) == expected


def test_prefix_only_app_leaves_other_paths_unmatched() -> None:
    policy = Policy.build([{"id": "wiki", "hosts": ["w.example.com"], "path_prefix": "/wiki"}])
    assert policy.match_app("w.example.com", "/other") is None


@pytest.mark.parametrize("host", [
    "jira.example.com", "a.jira.example.com", "mail.example.com", "x.team.example.com",
    "example.com", "jira.example.org", "bücher.example", "JIRA.EXAMPLE.COM:1",
])
def test_match_app_agrees_with_host_matches(host: str) -> None:
    app = POLICY.match_app(host, "/")
    if app is not None:
        assert host_matches(host, app.hosts)
    else:
        assert not any(host_matches(host, a.hosts) for a in POLICY.apps
                       if a.path_prefix == "/")

