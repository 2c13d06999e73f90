"""Languages: which one a browser gets, per-key fallback to English, operators' own texts."""

from __future__ import annotations

import json
import re

import pytest

from ssomw.pages.i18n import CATALOG_DIR, Messages, fill, load_catalogs, negotiate
from ssomw.pages.templating import ERROR_CODES, PAGE_FILES

AVAILABLE = ["en", "de", "fr-CA"]


@pytest.mark.parametrize("header, expected", [
    pytest.param("de", "de", id="exact"),
    pytest.param("DE", "de", id="case-insensitive"),
    pytest.param("de-CH", "de", id="region-falls-back-to-language"),
    pytest.param("de-Latn-CH-1996", "de", id="long-tag"),
    pytest.param("fr-CA", "fr-CA", id="region-offered"),
    pytest.param("fr", "en", id="region-only-offered"),
    pytest.param("fr-CA;q=0.5, de;q=0.8", "de", id="q-values-order"),
    pytest.param("it, de;q=0.1", "de", id="first-match-by-quality"),
    pytest.param("de;q=0, en;q=0.1", "en", id="q-zero-excluded"),
    pytest.param("de;q=0", "en", id="only-q-zero"),
    pytest.param("en;q=0.9, de", "de", id="implicit-q-one"),
    pytest.param("de;q=0.5, fr-CA;q=0.5", "de", id="tie-keeps-header-order"),
    pytest.param("it, *;q=0.5, de;q=0.1", "en", id="wildcard-means-default"),
    pytest.param("*", "en", id="wildcard-only"),
    pytest.param("", "en", id="empty"),
    pytest.param(None, "en", id="absent"),
    pytest.param("zz", "en", id="unknown"),
    pytest.param("de;q=abc", "en", id="bad-q"),
    pytest.param("de;q=2", "en", id="q-out-of-range"),
    pytest.param("<script>, ../../etc, de_DE, de-", "en", id="garbage"),
    pytest.param(";;;,,,==;q", "en", id="only-separators"),
    pytest.param("x-" * 2000 + ", de", "en", id="overlong-cut"),
    pytest.param(",".join(["zz"] * 40) + ",de", "en", id="too-many-ranges"),
    pytest.param(" de-AT ; q=0.7 , it", "de", id="whitespace"),
])
def test_accept_language(header, expected):
    assert negotiate(header, AVAILABLE) == expected


def test_shipped_catalogs_are_complete():
    catalogs = load_catalogs()
    assert {"en", "de"} <= set(catalogs)
    english = catalogs["en"]
    assert set(ERROR_CODES) <= set(english)
    for lang, table in catalogs.items():
        assert set(table) == set(english), lang
        for key, text in table.items():
            assert re.findall(r"\{(\w+)\}", text) == re.findall(r"\{(\w+)\}", english[key])


def test_every_key_used_by_a_shipped_page_exists():
    english = json.loads((CATALOG_DIR / "en.json").read_text(encoding="utf-8"))
    templates = CATALOG_DIR.parent / "templates"
    used = {key for name in {*PAGE_FILES.values(), "base.html"}
            for key in re.findall(r"\bt\('([\w.]+)'", (templates / name).read_text())}
    assert used and used <= set(english)


def test_missing_key_falls_back_to_english_per_key(make_pages):
    pages = make_pages({"messages": {"fr": {"logout.heading": "Vous êtes déconnecté"}}})
    assert "fr" in pages.languages
    html = pages.render("logout", app_id=None, lang=pages.negotiate("fr-FR,fr;q=0.9"))
    assert '<html lang="fr">' in html and "Vous êtes déconnecté" in html
    assert "Your single sign-on session has ended in every application." in html


def test_regional_override_falls_back_to_its_language_then_english():
    messages = Messages({"en": {"a": "A-en", "b": "B-en", "c": "C-en"}, "de": {"b": "B-de"}},
                        {"de-CH": {"a": "A-ch"}})
    assert [messages.get("de-CH", k) for k in "abc"] == ["A-ch", "B-de", "C-en"]
    assert messages.get("de-ch", "nothing") == "nothing"


def test_custom_message_per_code_and_language(make_pages):
    pages = make_pages({"messages": {
        "de": {"DOMAIN_NOT_ALLOWED": "Nur Konten von example.com."},
        "en": {"DOMAIN_NOT_ALLOWED": "Only example.com accounts."}}})

    def message(header: str | None, code: str = "DOMAIN_NOT_ALLOWED") -> str:
        html = pages.render("forbidden", app_id=None, lang=pages.negotiate(header), code=code,
                            status=403)
        return re.search(r'<p class="message">(.*?)</p>', html).group(1)

    assert message("de-DE") == "Nur Konten von example.com."
    assert message("en-GB") == "Only example.com accounts."
    assert message("de", "USER_NOT_ALLOWED").startswith("Ihr Konto ist")
    assert message(None, "NO_SUCH_CODE") == "Something went wrong on our side."


@pytest.mark.parametrize("lang, heading, title", [
    pytest.param("en", "Access denied", "Access denied", id="en"),
    pytest.param("de", "Zugriff verweigert", "Zugriff verweigert", id="de"),
])
def test_forbidden_page_is_translated(make_pages, lang, heading, title):
    html = make_pages().render("forbidden", app_id=None, lang=lang, code="USER_NOT_ALLOWED",
                               status=403, request_id="req-1")
    assert f'<html lang="{lang}">' in html and f"<h1>{heading}</h1>" in html
    assert f"<title>{title}</title>" in html and "<code>req-1</code>" in html


def test_placeholders_never_use_str_format():
    assert fill("to {app}", {"app": "Wiki"}) == "to Wiki"
    assert fill("{app.__class__} {0} {missing}", {"app": "x"}) == "{app.__class__} {0} {missing}"
