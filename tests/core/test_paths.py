"""Readings of a request path: nginx's, a servlet container's, and the raw one."""

from __future__ import annotations

import pytest

from ssomw.core.request_kind import normalise_path, path_forms


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("/", "/", id="root"),
    pytest.param("/a/b", "/a/b", id="plain"),
    pytest.param("/a/b/", "/a/b/", id="trailing-slash-kept"),
    pytest.param("/a?x=1", "/a", id="query-dropped"),
    pytest.param("/a#frag", "/a", id="fragment-dropped"),
    pytest.param("/a/./b", "/a/b", id="dot"),
    pytest.param("/a/../b", "/b", id="dotdot"),
    pytest.param("/a/b/..", "/a/", id="trailing-dotdot"),
    pytest.param("/a/.", "/a/", id="trailing-dot"),
    pytest.param("/../../etc", "/etc", id="never-above-root"),
    pytest.param("//a///b", "/a/b", id="slashes-merged"),
    pytest.param("/%61dmin", "/admin", id="decoded"),
    pytest.param("/a%2Fb", "/a/b", id="encoded-slash-decoded"),
    pytest.param("/a/%2e%2e/b", "/b", id="encoded-dots"),
    pytest.param("/%252e", "/%2e", id="decoded-once"),
    pytest.param("/a;x/../b", "/b", id="params-kept-by-nginx"),
    pytest.param("/a/..;/b", "/a/..;/b", id="dotdot-semicolon-is-a-name-to-nginx"),
    pytest.param("/caf%C3%A9", "/café", id="utf8"),
    pytest.param("/%ff", "/\ufffd", id="invalid-utf8-replaced"),
    pytest.param("", "/", id="empty"),
    pytest.param("a/b", "/a/b", id="no-leading-slash"),
])
def test_normalise_path(path: str, expected: str) -> None:
    assert normalise_path(path) == expected


@pytest.mark.parametrize(("path", "forms"), [
    pytest.param("/a/b", ("/a/b",), id="plain-one-reading"),
    pytest.param("/a?x=1", ("/a",), id="query-only"),
    pytest.param("/public/..;/admin", ("/public/..;/admin", "/admin"), id="servlet-differs"),
    pytest.param("/public/../admin", ("/admin", "/public/../admin"), id="raw-differs"),
    pytest.param("/a;jsessionid=1", ("/a;jsessionid=1", "/a"), id="jsessionid"),
    pytest.param("/%61", ("/a", "/%61"), id="encoded"),
])
def test_path_forms(path: str, forms: tuple[str, ...]) -> None:
    assert path_forms(path) == forms
