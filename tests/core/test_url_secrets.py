"""Credentials in URLs (ssomw/core/url_secrets.py): the tables in tests/data/url_redaction.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ssomw.core.url_secrets import has_redacted_credential, redact_url, restore_url, url_secrets

DATA = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "url_redaction.yaml")
                      .read_text(encoding="utf-8"))
REDACT = [pytest.param(c, id=c["id"]) for c in DATA["redact"]]
RESTORE = [pytest.param(c, id=c["id"]) for c in DATA["restore"]]


@pytest.mark.parametrize("case", REDACT)
def test_redact(case: dict[str, Any]) -> None:
    shown = redact_url(case["url"])
    assert shown == case["shown"]
    if case.get("secret"):
        assert case["secret"] not in shown
        assert any(case["secret"] in found for found in url_secrets(case["url"]))


@pytest.mark.parametrize("case", [p for p in REDACT
                                  if not has_redacted_credential(p.values[0]["url"])])
def test_redacted_url_round_trips(case: dict[str, Any]) -> None:
    assert restore_url(redact_url(case["url"]), case["url"]) == case["url"]


@pytest.mark.parametrize("case", RESTORE)
def test_restore(case: dict[str, Any]) -> None:
    assert restore_url(case["sent"], case["current"]) == case["kept"]


def test_tables_are_large_enough() -> None:
    assert len(DATA["redact"]) >= 40 and len(DATA["restore"]) >= 12


def test_has_redacted_credential() -> None:
    assert has_redacted_credential("redis://:***@h")
    assert has_redacted_credential("https://h/?token=%2A%2A%2A")
    assert not has_redacted_credential("https://h/***")
    assert not has_redacted_credential(None)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab:/@?#&=%[]*$}{,.\x00é "), max_size=40),
       st.sampled_from(["redis://", "ldap://", "x://", "", "redis+sentinel://"]))
def test_never_raises_and_is_idempotent(tail: str, head: str) -> None:
    value = head + tail
    shown = redact_url(value)
    assert redact_url(shown) == shown
    assert url_secrets(shown) == []
    restore_url(value, shown)
    restore_url(shown, value)
