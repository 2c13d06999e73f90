"""Custom templates cannot reach past the variables they are given, and everything is escaped.

A template author tries the usual server-side template injection payloads; each must render
harmlessly (or fail over to the shipped page) and never show a secret held elsewhere in the
process: in the environment, in module globals, or in the Pages object itself.
"""

from __future__ import annotations

import logging

import pytest

import ssomw.pages.i18n
import ssomw.pages.templating

SECRET = "fake-secret-7f3a9c0e1b2d4f6a8c9e"

INJECTIONS = [
    pytest.param("{{ ''.__class__.__mro__ }}", id="str-mro"),
    pytest.param("{{ ''.__class__.__mro__[1].__subclasses__() }}", id="subclasses"),
    pytest.param("{{ {}.__class__.__base__.__subclasses__() }}", id="dict-base"),
    pytest.param("{{ cycler.__init__.__globals__ }}", id="cycler-globals"),
    pytest.param("{{ cycler.__init__.__globals__.os.environ }}", id="cycler-environ"),
    pytest.param("{{ joiner.__init__.__globals__ }}", id="joiner-globals"),
    pytest.param("{{ namespace.__init__.__globals__ }}", id="namespace-globals"),
    pytest.param("{{ lipsum.__globals__ }}", id="lipsum-removed"),
    pytest.param("{{ range.__self__ }}", id="builtins-via-range"),
    pytest.param("{{ config }}{{ config.SECRET_KEY }}", id="flask-config"),
    pytest.param("{{ request.environ }}{{ session }}{{ g }}", id="flask-globals"),
    pytest.param("{{ url_for.__globals__ }}", id="url-for"),
    pytest.param("{{ self._TemplateReference__context }}", id="template-context"),
    pytest.param("{{ self.__dict__ }}", id="self-dict"),
    pytest.param("{{ t._messages.tables }}", id="translator-private"),
    pytest.param("{{ t.__call__.__globals__ }}", id="translator-globals"),
    pytest.param("{{ t.__self__ }}{{ t.__class__.__init__.__globals__.LEAK }}", id="t-class"),
    pytest.param("{{ ''|attr('__class__') }}", id="attr-filter"),
    pytest.param("{{ '{0.__class__.__init__.__globals__}'.format(t) }}", id="str-format"),
    pytest.param("{{ '%s'|format(t.__call__) }}", id="format-filter"),
    pytest.param("{{ brand.update(name='x') }}{{ providers.append(1) }}", id="mutation"),
    pytest.param("{% set x = dict.__init__ %}{{ x }}", id="set-dunder"),
    pytest.param("{{ app.__class__.__init__.__globals__ }}", id="context-dict"),
    pytest.param("{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
                 id="loop-subclasses"),
]


@pytest.fixture
def secrets_everywhere(monkeypatch):
    monkeypatch.setenv("SSOMW_FAKE_SECRET", SECRET)
    monkeypatch.setattr(ssomw.pages.i18n, "LEAK", SECRET, raising=False)
    monkeypatch.setattr(ssomw.pages.templating, "LEAK", SECRET, raising=False)


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("page", ["error", "choose_provider"])
def test_injection_renders_harmlessly(make_pages, secrets_everywhere, payload, page):
    section = {page: {"inline": f"<p id=custom>{payload}</p>"},
               "secret_keys": [SECRET]}  # nothing in the section is visible to templates
    html = make_pages(section).render(
        page, app_id="intranet", lang="en", code="BAD_REQUEST", status=400,
        choices=[("idp", "Test IdP", "/sso/login?idp=idp")])
    assert SECRET not in html
    for leak in ("&lt;class", "<class", "__globals__", "os.environ", "<built-in", "<function",
                 "subclasses", "Translate object", "Messages object", "Test IdP1"):
        assert leak not in html


@pytest.mark.parametrize("payload", [
    pytest.param("{{ ''.__class__.__mro__ }}", id="getattr-chain"),
    pytest.param("{{ cycler.__init__.__globals__.os }}", id="globals"),
])
def test_unsafe_access_falls_back_to_the_default_page(make_pages, caplog, payload):
    pages = make_pages({"error": {"inline": f"CUSTOM {payload}"}})
    with caplog.at_level(logging.ERROR, "ssomw.templates"):
        html = pages.render("error", app_id=None, lang="en", code="BAD_REQUEST", status=400)
    assert "CUSTOM" not in html and "The request was not understood." in html
    assert "templates.error failed: line 1: SecurityError" in caplog.text


def test_objects_are_refused_as_page_variables(make_pages):
    class Request:
        secret = SECRET
    with pytest.raises(TypeError, match="only plain data"):
        make_pages().render("logout", app_id=None, lang="en", request=Request())


HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


@pytest.mark.parametrize("page, context, template", [
    pytest.param("error", {"code": HOSTILE}, None, id="default-error-code"),
    pytest.param("error", {"message": HOSTILE}, None, id="default-error-message"),
    pytest.param("email", {"rd": HOSTILE, "csrf": HOSTILE}, None, id="default-email-fields"),
    pytest.param("emergency", {"username": HOSTILE, "action": HOSTILE}, None,
                 id="default-emergency-fields"),
    pytest.param("choose_provider", {"providers": [{"id": HOSTILE, "name": HOSTILE,
                                                    "url": HOSTILE}]}, None, id="default-choose"),
    pytest.param("logout", {"rd": HOSTILE}, "<a href='{{ rd }}'>{{ rd }}</a>", id="custom-rd"),
    pytest.param("error", {"code": HOSTILE}, "{{ code }}{{ message }}", id="custom-code"),
])
def test_variables_are_escaped(make_pages, page, context, template):
    section = {page: {"inline": template}} if template else {}
    html = make_pages(section).render(page, app_id=None, lang="en", **context)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html or "&#34;&gt;&lt;script" in html


def test_configured_texts_are_escaped(make_pages):
    section = {"messages": {"en": {"NOT_FOUND": "<b>gone</b>", "logout.heading": HOSTILE}},
               "brand": {"name": "<i>Corp</i>"}, "support": {"text": "<script>x</script>"}}
    pages = make_pages(section)
    error = pages.render("error", app_id=None, lang="en", code="NOT_FOUND", status=404)
    logout = pages.render("logout", app_id=None, lang="en")
    assert "&lt;b&gt;gone&lt;/b&gt;" in error and "&lt;i&gt;Corp&lt;/i&gt;" in error
    assert "&lt;script&gt;x&lt;/script&gt;" in error
    assert "<script>" not in logout and "&lt;script&gt;alert(1)" in logout
