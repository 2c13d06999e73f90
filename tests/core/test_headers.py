"""Identity header values: single-line, bounded, never passed raw."""

from __future__ import annotations

import pytest

from ssomw.core.headers import MAX_VALUE_BYTES, identity_headers, safe_header_value, to_wsgi

NAMES = {
    "user": "X-Auth-Request-User",
    "email": "X-Auth-Request-Email",
    "name": "X-Auth-Request-Name",
    "groups": "X-Auth-Request-Groups",
    "provider": "X-Auth-Request-Provider",
}


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("alice", "alice", id="ascii"),
    pytest.param("Alice Smith", "Alice Smith", id="inner-space"),
    pytest.param("  alice  ", "alice", id="trimmed"),
    pytest.param("", "", id="empty"),
    pytest.param("Jürgen Groß", "Jürgen Groß", id="latin-unicode-kept"),
    pytest.param("山田太郎", "山田太郎", id="cjk-kept"),
    pytest.param("مریم\u200cعلی", "مریم\u200cعلی", id="zwnj-in-persian-name-kept"),
    pytest.param("👩‍💻 dev", "👩‍💻 dev", id="emoji-zwj-kept"),
    pytest.param(42, "42", id="int"),
    pytest.param(True, "true", id="bool"),
    pytest.param("a" * MAX_VALUE_BYTES, "a" * MAX_VALUE_BYTES, id="at-limit"),
    pytest.param("alice\r\nX-Admin: 1", None, id="crlf-injection"),
    pytest.param("alice\nbob", None, id="lf"),
    pytest.param("alice\rbob", None, id="cr"),
    pytest.param("alice\x00", None, id="nul"),
    pytest.param("a\tb", None, id="tab"),
    pytest.param("a\x7fb", None, id="del"),
    pytest.param("a\x85b", None, id="c1-nel"),
    pytest.param("a\u2028b", None, id="line-separator"),
    pytest.param("a\u2029b", None, id="paragraph-separator"),
    pytest.param("admin\u202egnp.exe", None, id="bidi-override"),
    pytest.param("\ufeffalice", None, id="bom"),
    pytest.param("a\ud800b", None, id="lone-surrogate"),
    pytest.param("a" * (MAX_VALUE_BYTES + 1), None, id="over-limit"),
    pytest.param("é" * (MAX_VALUE_BYTES // 2 + 1), None, id="over-limit-in-bytes"),
    pytest.param(None, None, id="none"),
    pytest.param(["a"], None, id="list-not-scalar"),
    pytest.param({"a": 1}, None, id="dict"),
    pytest.param(b"alice", None, id="bytes"),
])
def test_safe_header_value(value: object, expected: str | None) -> None:
    assert safe_header_value(value) == expected


@pytest.mark.parametrize(("identity", "headers", "dropped"), [
    pytest.param(
        {"user": "alice", "email": "alice@example.com", "groups": ["dev", "ops"],
         "provider": "corp"},
        [("X-Auth-Request-User", "alice"), ("X-Auth-Request-Email", "alice@example.com"),
         ("X-Auth-Request-Groups", "dev,ops"), ("X-Auth-Request-Provider", "corp")],
        [], id="typical"),
    pytest.param({"user": "alice", "name": None, "email": ""},
                 [("X-Auth-Request-User", "alice")], [], id="missing-and-empty-not-sent"),
    pytest.param({"user": "alice", "name": "Mallory\r\nX-Auth-Request-Groups: admins"},
                 [("X-Auth-Request-User", "alice")], ["name"], id="crlf-dropped"),
    pytest.param({"groups": ["dev", "admins,ops", "qa"]},
                 [("X-Auth-Request-Groups", "dev,qa")], ["groups[1]"],
                 id="comma-group-cannot-inject"),
    pytest.param({"groups": ["dev", "bad\ngroup", "", 7]},
                 [("X-Auth-Request-Groups", "dev,7")], ["groups[1]", "groups[2]"],
                 id="bad-members-dropped"),
    pytest.param({"groups": frozenset({"ops", "dev"})},
                 [("X-Auth-Request-Groups", "dev,ops")], [], id="set-sorted"),
    pytest.param({"groups": ("dev", "dev", "ops")},
                 [("X-Auth-Request-Groups", "dev,ops")], [], id="duplicates-once"),
    pytest.param({"groups": []}, [], [], id="no-groups-no-header"),
    pytest.param({"groups": [f"group-{i:04d}" for i in range(500)]}, [], ["groups"],
                 id="too-many-groups-drop-all"),
    pytest.param({"user": "Jürgen"}, [("X-Auth-Request-User", "Jürgen")], [], id="utf8-kept"),
    pytest.param({"user": "alice", "unmapped": "x\r\ny"},
                 [("X-Auth-Request-User", "alice")], [], id="unmapped-attribute-ignored"),
])
def test_identity_headers(identity: dict[str, object], headers: list[tuple[str, str]],
                          dropped: list[str]) -> None:
    assert identity_headers(NAMES, identity) == (headers, dropped)


@pytest.mark.parametrize(("names", "headers", "dropped"), [
    pytest.param({"user": "X-User", "team": "X-Team"},
                 [("X-User", "alice"), ("X-Team", "blue")], [], id="extra-app-header"),
    pytest.param({"user": "X-User", "team": "X Team"}, [("X-User", "alice")], ["team"],
                 id="invalid-header-name"),
    pytest.param({"user": "X-User", "team": "X-Team\r\nEvil"}, [("X-User", "alice")],
                 ["team"], id="crlf-in-header-name"),
    pytest.param({"user": "X-User", "team": "x-user"}, [("X-User", "alice")], ["team"],
                 id="duplicate-header-name"),
])
def test_identity_header_names(names: dict[str, str], headers: list[tuple[str, str]],
                               dropped: list[str]) -> None:
    assert identity_headers(names, {"user": "alice", "team": "blue"}) == (headers, dropped)


def test_to_wsgi_carries_utf8_bytes() -> None:
    value = to_wsgi("Jürgen")
    assert value.encode("latin-1") == "Jürgen".encode()
