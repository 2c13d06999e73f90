"""Reading a forward-auth or ext_authz request into one URL (``core/forwarded.py``), driven by
``tests/data/forwarded_requests.yaml``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ssomw.core.forwarded import Unreadable, ext_authz_original, original
from ssomw.core.target import MAX_URL

DATA = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "forwarded_requests.yaml")
                      .read_text())


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in DATA["forward_auth"]])
def test_forward_auth(case):
    h = dict(case["headers"])
    if h.get("uri") == "LONG":
        h["uri"] = "/" + "a" * MAX_URL
    if "refused" in case:
        with pytest.raises(Unreadable, match=case["refused"]):
            original(h.get("method"), h.get("proto"), h.get("host"), h.get("uri"))
        return
    read = original(h.get("method"), h.get("proto"), h.get("host"), h.get("uri"))
    assert (read.url, read.method) == (case["url"], case["method"])


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in DATA["ext_authz"]])
def test_ext_authz(case):
    args = ("/sso/ext-authz", case["raw"], case["method"], case.get("proto"), case.get("host"))
    if "refused" in case:
        with pytest.raises(Unreadable, match=case["refused"]):
            ext_authz_original(*args)
        return
    read = ext_authz_original(*args)
    assert (read.url, read.method) == (case["url"], case["as_method"])
