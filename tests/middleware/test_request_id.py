"""Every request gets an id: nginx's when sane, else a fresh one; echoed in ``X-Request-Id``
and bound for log records only while the request runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import Client

from ssomw.middleware.request_id import RequestId
from ssomw.telemetry.request_context import current_request_id


def echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answers with the id in the environ and the id its log records would carry."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ['ssomw.request_id']} {current_request_id()}".encode()]


@pytest.mark.parametrize(("supplied", "kept"), [
    pytest.param("0123456789abcdef0123", True, id="nginx-hex"),
    pytest.param("req.id_with-dashes", True, id="allowed-punctuation"),
    pytest.param("short", False, id="too-short"),
    pytest.param("x" * 129, False, id="too-long"),
    pytest.param("abc def ghi jkl", False, id="spaces"),
    pytest.param("fake\" level=error", False, id="log-injection"),
    pytest.param(None, False, id="absent"),
])
def test_sane_ids_are_kept_others_replaced(supplied, kept):
    headers = {"X-Request-Id": supplied} if supplied else {}
    response = Client(RequestId(echo)).get("/", headers=headers)
    request_id = response.headers["X-Request-Id"]
    assert response.get_data(as_text=True) == f"{request_id} {request_id}"
    if kept:
        assert request_id == supplied
    else:
        assert re.fullmatch(r"[0-9a-f]{24}", request_id)


def test_the_id_is_unbound_after_the_request():
    Client(RequestId(echo)).get("/", headers={"X-Request-Id": "0123456789abcdef0123"})
    assert current_request_id() == "-"
