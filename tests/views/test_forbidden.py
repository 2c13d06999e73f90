"""The 403 page nginx shows (``/sso/forbidden``): truthful for who is asking, and its ways out
lead somewhere useful (issue 16 item 7). The cases are tests/data/forbidden_cases.yaml."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.wsgi import Gateway

DATA = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "forbidden_cases.yaml")
                      .read_text())


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Client, Runtime]:
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path_factory.mktemp("forbidden") / "s.db")},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                       "client_secret": "s", "logout": {"rp_initiated": False}}],
        "apps": DATA["apps"],
    }))
    runtime = Runtime.build(config)
    return Client(Gateway(config, runtime), use_cookies=False), runtime


def page(gw: tuple[Client, Runtime], case: dict[str, Any]) -> str:
    """The page as nginx fetches it: on the refused URL's host, with the client's cookie."""
    client, runtime = gw
    headers = {"X-Original-URL": case["url"]} if case["url"] else {}
    if "groups" in case:
        _, cookie = runtime.sessions.create(user="ann", provider="idp", sub="s-ann", sid=None,
                                            data={"groups": case["groups"]})
        headers["Cookie"] = f"ssomw_session={cookie}"
    host = case.get("host") or urlsplit(case["url"] or "http://wiki.example.com/").netloc
    response = client.get("/sso/forbidden", base_url=f"http://{host}", headers=headers)
    assert response.status_code == 403
    return response.get_data(as_text=True)


def found(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.S)
    return html.unescape(match.group(1)) if match else None


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in DATA["cases"]])
def test_forbidden_page(gw, case):
    text = page(gw, case)
    expect = case["expect"]
    assert found(r"<code>([A-Z_]+)</code>", text) == expect["code"]
    assert found(r'<a class="button" href="([^"]*)">Back to the start page', text) == \
        expect["start"]
    form = found(r'(<form class="inline" method="post" action="/sso/logout">.*?</form>)', text)
    assert (found(r'name="rd" value="([^"]*)"', form) if form else None) == expect["switch"]
    said = {"ann": "You are signed in as ann.", "anonymous": "You are not signed in."}
    for who, sentence in said.items():
        assert (sentence in text) == (expect["who"] == who), sentence
    if expect["who"] is None:
        assert "ann" not in text
    assert "You are signed in, but" not in text
