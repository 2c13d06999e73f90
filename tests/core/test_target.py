"""The auth endpoint's own URL splitter agrees with urllib's urlsplit on every input.

``split_target`` takes a regex shortcut for the usual X-Original-URL and parses each distinct
authority once; anything unusual goes to urlsplit. Whatever path it takes, the result must be
what urlsplit alone gives (the app match and the rules depend on host and path).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ssomw.core.memo import Memo
from ssomw.core.target import MAX_URL, Target, raw_cookie, read_cookie, split_target

DATA = Path(__file__).resolve().parents[1] / "data"
ESCAPES = {r"\t": "\t", r"\n": "\n", r"\r": "\r", r"\x00": "\x00", r"\x7f": "\x7f", r"\s": " "}


def _lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _original_urls() -> list[str]:
    pattern = re.compile("|".join(re.escape(k) for k in ESCAPES))
    return [pattern.sub(lambda m: ESCAPES[m.group(0)], line) for line in
            _lines("original_urls.txt")]


def _redirect_payloads() -> list[str]:
    """The open-redirect payloads and good targets, as hostile X-Original-URL values."""
    code_point = re.compile(r"\{U\+([0-9A-Fa-f]{4,6})\}")
    return [code_point.sub(lambda m: chr(int(m.group(1), 16)), line)
            for name in ("open_redirects.txt", "good_redirects.txt") for line in _lines(name)]


def reference(original: str) -> Target | None:
    """What the endpoint did before it had a shortcut: urlsplit, nothing else."""
    if len(original) > MAX_URL:
        return None
    try:
        parts = urlsplit(original)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    return Target(parts.scheme, host, port, parts.path)


CASES = _original_urls() + _redirect_payloads() + [
    "https://wiki.example.com/" + "a" * (MAX_URL - 25), "https://wiki.example.com/" + "a" * MAX_URL]


@pytest.mark.parametrize("original", CASES, ids=[repr(c)[:60] for c in CASES])
def test_split_target_is_urlsplit(original: str) -> None:
    authorities: Memo[str, object] = Memo(4096)
    expected = reference(original)
    assert split_target(original, authorities) == expected
    assert split_target(original, authorities) == expected  # again, from the memo


def test_the_usual_url_is_split_without_urlsplit(monkeypatch) -> None:
    authorities: Memo[str, object] = Memo(4096)
    assert split_target("https://wiki.example.com:8443/a?b", authorities) == \
        Target("https", "wiki.example.com", 8443, "/a")

    def fail(*_args: object) -> None:
        raise AssertionError("urlsplit called for an authority already parsed")

    monkeypatch.setattr("ssomw.core.target.urlsplit", fail)
    assert split_target("https://wiki.example.com:8443/c/d#e", authorities) == \
        Target("https", "wiki.example.com", 8443, "/c/d")


def test_the_authority_memo_is_bounded() -> None:
    authorities: Memo[str, object] = Memo(4096)
    for i in range(5000):
        split_target(f"https://h{i}.example.com/", authorities)
    assert len(authorities) <= 4096


# How nginx's $cookie_ssomw_session reads a Cookie header (ngx_http_parse_multi_header_lines):
# the first pair whose name matches in any case, after the start, a ";" or a ",".
@pytest.mark.parametrize("header, expected", [
    pytest.param("ssomw_session=abc", "abc", id="single"),
    pytest.param("a=1; ssomw_session=abc; b=2", "abc", id="among-others"),
    pytest.param("ssomw_session=first; ssomw_session=second", "first", id="first-wins"),
    pytest.param("SSOMW_SESSION=zzz; ssomw_session=abc", "zzz", id="any-case-first-wins"),
    pytest.param("Ssomw_Session=zzz", "zzz", id="mixed-case"),
    pytest.param("ssomw_session_flow=x", None, id="longer-name-is-not-a-match"),
    pytest.param("xssomw_session=x", None, id="suffix-name-is-not-a-match"),
    pytest.param("a=1,ssomw_session=abc", "abc", id="comma-separates-pairs"),
    pytest.param("ssomw_session = abc ;b=1", "abc", id="spaces-around"),
    pytest.param("a=b ssomw_session=abc", None, id="space-is-not-a-separator"),
    pytest.param("garbage;;;=;", None, id="garbage"),
    pytest.param('ssomw_session="abc"', "abc", id="quoted"),
    pytest.param("ssomw_session=", None, id="empty"),
])
def test_read_cookie_as_nginx_does(header: str, expected: str | None) -> None:
    assert read_cookie(header, "ssomw_session") == expected


def test_raw_cookie_is_the_cache_key_text() -> None:
    assert raw_cookie('a=1; SSOMW_SESSION="v" ; ssomw_session=w', "ssomw_session") == '"v"'
    assert raw_cookie("a=1", "ssomw_session") == ""
