"""Operators' templates: which one is used, what happens when one breaks, and what config
validation refuses before a broken template can reach a user."""

from __future__ import annotations

import logging
from pathlib import Path

import jsonschema
import pytest

from ssomw.pages.templating import PAGE_FILES, TEMPLATES_SCHEMA, validate_templates


def mark(name: str) -> dict[str, str]:
    return {"inline": f'{{% extends "base.html" %}}{{% block content %}}[{name}]{{% endblock %}}'}


FULL = {
    "error": mark("global-error"), "forbidden": mark("global-forbidden"),
    "logout": mark("global-logout"),
    "apps": {"intranet": {"error": mark("intranet-error"), "logout": mark("intranet-logout")},
             "wiki": {"forbidden": mark("wiki-forbidden")}},
}


@pytest.mark.parametrize("section, page, app_id, expected", [
    pytest.param(FULL, "logout", "intranet", "[intranet-logout]", id="app-override-wins"),
    pytest.param(FULL, "logout", "wiki", "[global-logout]", id="app-without-override"),
    pytest.param(FULL, "logout", None, "[global-logout]", id="app-unknown"),
    pytest.param(FULL, "forbidden", "wiki", "[wiki-forbidden]", id="app-forbidden"),
    pytest.param(FULL, "forbidden", "intranet", "[intranet-error]", id="app-error-for-403"),
    pytest.param(FULL, "forbidden", None, "[global-forbidden]", id="global-forbidden"),
    pytest.param({"error": mark("global-error")}, "forbidden", None, "[global-error]",
                 id="forbidden-falls-back-to-error"),
    pytest.param(FULL, "error", "wiki", "[global-error]", id="forbidden-not-used-for-errors"),
    pytest.param(FULL, "email", "intranet", 'name="email"', id="shipped-default"),
])
def test_template_lookup_order(make_pages, section, page, app_id, expected):
    html = make_pages(section).render(page, app_id=app_id, lang="en", status=403)
    assert expected in html
    assert '<html lang="en">' in html and "/sso/static/ssomw.css" in html


def test_file_template_extends_the_shipped_base(make_pages, tmp_path: Path):
    path = tmp_path / "logout.html"
    path.write_text('{% extends "base.html" %}{% block title %}Bye{% endblock %}'
                    '{% block content %}<h1>{{ t("logout.heading") }}, {{ app.name }}</h1>'
                    '{% endblock %}', encoding="utf-8")
    html = make_pages({"logout": {"file": str(path)}, "brand": {"name": "Example Corp"}}).render(
        "logout", app_id="intranet", lang="de")
    assert "<title>Bye · Example Corp</title>" in html
    assert "<h1>Sie sind abgemeldet, Intranet</h1>" in html and '<html lang="de">' in html


@pytest.mark.parametrize("template, line, kind", [
    pytest.param("ok\n{{ missing.attribute }}", 2, "UndefinedError", id="undefined"),
    pytest.param("{{ 1 // 0 }}", 1, "ZeroDivisionError", id="python-error"),
    pytest.param('a\nb\n{% include "absent.html" %}', 3, "template 'absent.html' not found",
                 id="missing-include"),
    pytest.param("{{ ({})[csrf].x }}", 1, "UndefinedError", id="value-in-message"),
])
def test_runtime_error_logs_and_shows_the_default_page(make_pages, caplog, template, line, kind):
    pages = make_pages({"apps": {"intranet": {"email": {"inline": "CUSTOM " + template}}}})
    with caplog.at_level(logging.ERROR, "ssomw.templates"):
        html = pages.render("email", app_id="intranet", lang="en", csrf="csrf-value-123",
                            rd="/back")
    assert "CUSTOM" not in html
    assert 'name="csrf" value="csrf-value-123"' in html and 'name="rd" value="/back"' in html
    [record] = caplog.records
    assert record.getMessage() == (f"custom template templates.apps.intranet.email failed: "
                                   f"line {line}: {kind}; showed the default email page")
    assert "csrf-value-123" not in caplog.text


def test_unreadable_file_at_startup_logs_and_uses_the_default(make_pages, caplog, tmp_path):
    with caplog.at_level(logging.ERROR, "ssomw.templates"):
        pages = make_pages({"error": {"file": str(tmp_path / "gone.html")}})
    assert "templates.error unusable (cannot read" in caplog.text
    assert "The request was not understood." in pages.render(
        "error", app_id=None, lang="en", code="BAD_REQUEST", status=400)


def test_emergency_default_has_labelled_credentials_and_csrf(make_pages):
    html = make_pages().render("emergency", app_id=None, lang="en", csrf="tok", rd="/x",
                               action="/sso/emergency", error=True, username="ann")
    for fragment in ('<label for="username">Username</label>', 'id="username" name="username"',
                     'value="ann"', '<label for="password">Password</label>',
                     'type="password" autocomplete="current-password"',
                     'name="csrf" value="tok"', 'name="rd" value="/x"',
                     'action="/sso/emergency"', 'role="alert"'):
        assert fragment in html


def test_choose_page_takes_legacy_tuples_and_dicts(make_pages):
    pages = make_pages({"choose_provider": {"inline": "{% for i, n, u in choices %}{{ i }}"
                                            "{% endfor %}|{{ providers|map(attribute='name')"
                                            "|join(',') }}"}})
    legacy = pages.render("choose_provider", app_id=None, lang="en",
                          choices=[("a", "A", "/a"), ("b", "B", "/b")])
    dicts = pages.render("choose_provider", app_id=None, lang="en",
                         providers=[{"id": "a", "name": "A", "url": "/a"}])
    assert legacy == "ab|A,B" and dicts == "a|A"


@pytest.mark.parametrize("section, expected", [
    pytest.param({"error": {"inline": "a\nb\n{{ code }\n"}},
                 [("templates.error", "line 3: unexpected '}'")], id="syntax-error-line"),
    pytest.param({"apps": {"intranet": {"logout": {"inline": "{% if x %}open"}}}},
                 [("templates.apps.intranet.logout", "line 1: Unexpected end of template. "
                   "Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. "
                   "The innermost block that needs to be closed is 'if'.")],
                 id="unclosed-block"),
    pytest.param({"email": {"inline": "{% extends 'nope.html' %}"}},
                 [("templates.email", "line 1: template 'nope.html' not found")],
                 id="extends-missing"),
    pytest.param({"error": {"inline": "\n{{ ''.__class__.__mro__ }}"}},
                 [("templates.error", "line 2: access to attribute '__class__' of 'str' "
                   "object is unsafe.")], id="unsafe-access"),
    pytest.param({"logout": {"file": "/nonexistent/ssomw/logout.html"}},
                 [("templates.logout", "cannot read /nonexistent/ssomw/logout.html: "
                   "No such file or directory")], id="missing-file"),
    pytest.param({"logout": {"file": "relative.html"}},
                 [("templates.logout", "file must be an absolute path, not 'relative.html'")],
                 id="relative-file"),
    pytest.param({"messages": {"de": {"DOMAIN_NOT_ALOWED": "x", "NOT_FOUND": "y"}}},
                 [("templates.messages.de.DOMAIN_NOT_ALOWED", "unknown message key; did you "
                   "mean 'DOMAIN_NOT_ALLOWED'? (the keys are those of "
                   "ssomw/pages/i18n/en.json)")],
                 id="message-key-typo"),
    pytest.param({"messages": {"en": {"COLOUR": "x"}}},
                 [("templates.messages.en.COLOUR", "unknown message key (the keys are those "
                   "of ssomw/pages/i18n/en.json)")],
                 id="english-override-cannot-invent-a-key"),
    pytest.param({"apps": {"intranat": {"error": {"inline": "x"}}}},
                 [("templates.apps.intranat", "unknown app 'intranat'")], id="unknown-app"),
    pytest.param({page: {"inline": "{% extends 'base.html' %}"} for page in PAGE_FILES}, [],
                 id="all-pages-valid"),
])
def test_validation_reports_problems_with_their_path(section, expected):
    assert validate_templates(section, app_ids=["intranet", "wiki"]) == expected


def test_validation_reports_non_utf8_files(tmp_path: Path):
    path = tmp_path / "latin1.html"
    path.write_bytes("Grüße".encode("latin-1"))
    assert validate_templates({"error": {"file": str(path)}}) == [
        ("templates.error", f"{path} is not UTF-8 text")]


@pytest.mark.parametrize("section, valid", [
    pytest.param({}, True, id="empty"),
    pytest.param({"error": {"file": "/etc/ssomw/error.html"}, "logout": {"inline": "x"},
                  "apps": {"intranet": {"forbidden": {"inline": "y"}}},
                  "messages": {"de-CH": {"NOT_FOUND": "z"}},
                  "brand": {"name": "Corp", "logo_url": "/sso-brand/logo.svg"},
                  "support": {"email": "help@example.com", "url": "https://help.example.com",
                              "text": "Ext. 1234"}}, True, id="everything"),
    pytest.param({"brand": {"logo_url": "data:image/png;base64,iVBORw0KGgo="}}, True,
                 id="data-logo"),
    pytest.param({"login": {"inline": "x"}}, False, id="unknown-page"),
    pytest.param({"error": {"file": "/a", "inline": "b"}}, False, id="file-and-inline"),
    pytest.param({"error": {}}, False, id="neither"),
    pytest.param({"error": "/etc/ssomw/error.html"}, False, id="bare-string"),
    pytest.param({"error": {"file": "error.html"}}, False, id="relative-path"),
    pytest.param({"apps": {"Bad Id": {}}}, False, id="bad-app-id"),
    pytest.param({"brand": {"logo_url": "https://cdn.example.com/logo.png"}}, False,
                 id="remote-logo"),
    pytest.param({"brand": {"logo_url": "//evil.example.com/logo.png"}}, False,
                 id="protocol-relative-logo"),
    pytest.param({"brand": {"logo_url": "/\\evil.example.com"}}, False, id="backslash-logo"),
    pytest.param({"brand": {"logo_url": "data:text/html;base64,PHNjcmlwdD4="}}, False,
                 id="html-data-uri"),
    pytest.param({"support": {"url": "javascript:alert(1)"}}, False, id="javascript-url"),
    pytest.param({"support": {"email": "a@b.c?subject=<x>"}}, False, id="email-markup"),
    pytest.param({"messages": {"de": {"NOT_FOUND": 1}}}, False, id="message-not-text"),
    pytest.param({"messages": {"not a tag": {}}}, False, id="bad-language-tag"),
])
def test_schema(section, valid):
    errors = list(jsonschema.Draft202012Validator(TEMPLATES_SCHEMA).iter_errors(section))
    assert (errors == []) is valid, errors
