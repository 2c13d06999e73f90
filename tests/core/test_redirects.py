"""The one redirect check: data files of attacks and good targets, plus named tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ssomw.core.redirects import MAX_TARGET_LENGTH, host_matches, normalise_host, safe_redirect

DATA = Path(__file__).resolve().parents[1] / "data"
ALLOWED = ("app.example.com", "*.corp.example")
FALLBACK = "/"


def load_table(name: str) -> list[str]:
    """Lines of a data file; ``{U+XXXX}`` stands for one code point, ``#`` starts a comment."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [
        re.sub(r"\{U\+([0-9A-Fa-f]{4,6})\}", lambda m: chr(int(m.group(1), 16)), line)
        for line in lines
        if line.strip() and not line.startswith("#")
    ]


OPEN_REDIRECTS = load_table("open_redirects.txt")
GOOD_REDIRECTS = load_table("good_redirects.txt")


def test_data_files_are_substantial() -> None:
    assert len(OPEN_REDIRECTS) >= 60
    assert len(set(OPEN_REDIRECTS)) == len(OPEN_REDIRECTS), "duplicate payloads"
    assert len(set(GOOD_REDIRECTS)) == len(GOOD_REDIRECTS), "duplicate targets"


@pytest.mark.parametrize("payload", OPEN_REDIRECTS, ids=[ascii(p)[1:-1] for p in OPEN_REDIRECTS])
def test_attack_payload_falls_back(payload: str) -> None:
    assert safe_redirect(payload, ALLOWED) == FALLBACK


@pytest.mark.parametrize("target", GOOD_REDIRECTS, ids=[ascii(t)[1:-1] for t in GOOD_REDIRECTS])
def test_good_target_is_returned_unchanged(target: str) -> None:
    assert safe_redirect(target, ALLOWED) == target


@pytest.mark.parametrize(("target", "expected"), [
    pytest.param("/after-login", "/after-login", id="relative-path"),
    pytest.param("https://app.example.com/x", "https://app.example.com/x", id="exact-host"),
    pytest.param("https://jira.corp.example/", "https://jira.corp.example/", id="wildcard-sub"),
    pytest.param("https://corp.example/", "/home", id="wildcard-not-apex"),
    pytest.param("https://evil-corp.example/", "/home", id="wildcard-not-suffix-string"),
    pytest.param(None, "/home", id="none"),
    pytest.param("", "/home", id="empty"),
    pytest.param(b"/bytes", "/home", id="bytes-not-str"),
    pytest.param("/" + "a" * (MAX_TARGET_LENGTH - 1), "/" + "a" * (MAX_TARGET_LENGTH - 1),
                 id="at-length-limit"),
    pytest.param("/" + "a" * MAX_TARGET_LENGTH, "/home", id="over-length-limit"),
    pytest.param("https://app.example.com/" + "a" * 3000, "/home", id="overlong-absolute"),
    pytest.param("//app.example.com/", "/home", id="protocol-relative-even-to-allowed-host"),
    pytest.param("https://app.example.com@app.example.com/", "/home", id="userinfo-even-same"),
    pytest.param("https://app.example.com./", "/home", id="trailing-dot"),
    pytest.param("https://ａｐｐ.example.com/", "https://ａｐｐ.example.com/",
                 id="fullwidth-idna-equal"),
    pytest.param("https://аpp.example.com/", "/home", id="cyrillic-homograph"),
])
def test_named_cases(target: object, expected: str) -> None:
    assert safe_redirect(target, ALLOWED, fallback="/home") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("allowed", "target", "ok"), [
    pytest.param(["app.example.com:8443"], "https://app.example.com/", True,
                 id="port-in-allowed-entry-ignored"),
    pytest.param(["APP.Example.COM"], "https://app.example.com/", True, id="entry-case"),
    pytest.param(["bücher.example"], "https://xn--bcher-kva.example/", True, id="entry-idna"),
    pytest.param(["xn--bcher-kva.example"], "https://BÜCHER.example/", True, id="target-idna"),
    pytest.param(["*"], "https://anything.example/", False, id="bare-star-matches-nothing"),
    pytest.param(["*example.com"], "https://evilexample.com/", False, id="star-without-dot"),
    pytest.param(["app.*.com"], "https://app.evil.com/", False, id="inner-star"),
    pytest.param([], "https://app.example.com/", False, id="nothing-allowed"),
    pytest.param([], "/still/fine", True, id="relative-needs-no-host"),
    pytest.param(["[::1]"], "https://[::1]:8443/", True, id="ipv6-literal"),
    pytest.param(["::1"], "https://[0:0::1]/", True, id="ipv6-canonical"),
    pytest.param(["10.0.0.5"], "http://10.0.0.5/", True, id="ipv4-literal"),
    pytest.param(["10.0.0.5"], "http://010.0.0.5/", False, id="ipv4-octal-form"),
])
def test_allowed_host_forms(allowed: list[str], target: str, ok: bool) -> None:
    assert (safe_redirect(target, allowed) == target) is ok


@pytest.mark.parametrize(("host", "patterns", "expected"), [
    pytest.param("jira.example.com", ["jira.example.com"], True, id="exact"),
    pytest.param("JIRA.Example.com", ["jira.example.com"], True, id="case-insensitive"),
    pytest.param("jira.example.com:8443", ["jira.example.com"], True, id="port-stripped"),
    pytest.param("jira.example.com:", ["jira.example.com"], False, id="empty-port"),
    pytest.param("jira.example.com:x", ["jira.example.com"], False, id="bad-port"),
    pytest.param("a.jira.example.com", ["*.jira.example.com"], True, id="wildcard-one-level"),
    pytest.param("a.b.jira.example.com", ["*.jira.example.com"], True, id="wildcard-deep"),
    pytest.param("jira.example.com", ["*.jira.example.com"], False, id="wildcard-not-apex"),
    pytest.param("evil-jira.example.com", ["*.jira.example.com"], False,
                 id="wildcard-not-string-suffix"),
    pytest.param("jira.example.com.evil.com", ["jira.example.com"], False, id="lookalike"),
    pytest.param("jira.example.com.", ["jira.example.com"], False, id="trailing-dot"),
    pytest.param("", ["jira.example.com"], False, id="empty"),
    pytest.param("bücher.example", ["xn--bcher-kva.example"], True, id="idna"),
    pytest.param("[::1]:80", ["::1"], True, id="ipv6-port"),
    pytest.param("j ira.example.com", ["j ira.example.com"], False, id="garbage-never-matches"),
])
def test_host_matches(host: str, patterns: list[str], expected: bool) -> None:
    assert host_matches(host, patterns) is expected


@pytest.mark.parametrize(("host", "expected"), [
    pytest.param("App.Example.com:443", "app.example.com", id="case-and-port"),
    pytest.param("BÜCHER.example", "xn--bcher-kva.example", id="idna"),
    pytest.param("[0:0::1]", "[::1]", id="ipv6"),
    pytest.param("a..b", None, id="empty-label"),
    pytest.param("-a.example", None, id="leading-hyphen"),
    pytest.param("a" * 64 + ".example", None, id="label-too-long"),
    pytest.param("evil.com℀.example", None, id="idna-disallowed"),
])
def test_normalise_host(host: str, expected: str | None) -> None:
    assert normalise_host(host) == expected
