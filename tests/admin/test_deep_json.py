"""JSON nested deeper than any configuration is refused early with 400, whatever the depth:
never a 500 from a walker that ran out of stack (issue 17 item 2; 500 at depth 500 before)."""

from __future__ import annotations

import json

import pytest

from ssomw.admin.http import nesting_depth

from .conftest import Gw

ROUTES = [
    pytest.param("PUT", "/config", "application/json", id="PUT /config"),
    pytest.param("PATCH", "/config", "application/merge-patch+json", id="PATCH /config"),
    pytest.param("POST", "/config/import?dry_run=true", "application/json", id="import dry run"),
    pytest.param("POST", "/config/import", "application/json", id="import"),
]


def nested(depth: int) -> str:
    """An object ``depth`` levels deep: ``{"apps": [[...[1]...]]}``."""
    return '{"apps": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


@pytest.mark.parametrize(("method", "path", "media"), ROUTES)
@pytest.mark.parametrize(("depth", "status"), [
    pytest.param(50, 422, id="50-invalid-config"),
    pytest.param(500, 400, id="500"), pytest.param(900, 400, id="900"),
    pytest.param(5000, 400, id="5000"), pytest.param(100_000, 400, id="100000"),
])
def test_deep_json_is_refused_early(gw: Gw, method: str, path: str, media: str, depth: int,
                                    status: int) -> None:
    before = gw.api("GET", "/config/versions").json["active"]
    response = gw.api(method, path, data=nested(depth), content_type=media,
                      headers={"If-Match": gw.etag()})
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status == 400:
        assert "deeper than 64 levels" in response.json["message"]
    assert gw.api("GET", "/config/versions").json["active"] == before  # nothing changed


def test_a_deep_object_inside_a_valid_shape_is_refused_too(gw: Gw) -> None:
    """Depth counted in objects as well as arrays, and in strings not at all."""
    deep = {}
    inner = deep
    for _ in range(70):
        inner["x"] = {}
        inner = inner["x"]
    body = {"apps": [{"id": "a", "hosts": ["a.example.com"], "rules": [deep]}]}
    response = gw.api("PUT", "/config", json=body, headers={"If-Match": gw.etag()})
    assert response.status_code == 400


@pytest.mark.parametrize(("text", "depth"), [
    ("1", 0), ("{}", 1), ('[{"a": [1]}]', 3), ('"[[[["', 0), ('["]]]", ["\\"[["]]', 2),
    ('"unclosed [[[', 0), ("[[[", 3), ("]]][[", 0),
])
def test_nesting_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    assert nesting_depth(text.encode()) == depth
    if depth and text.count("[") + text.count("{") == depth and text.startswith("[{"):
        assert json.loads(text)
