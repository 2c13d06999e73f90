"""``templates.disabled``: custom templates and message overrides kept but not in force (the
console's on/off switch), still validated, and naming only what exists."""

from __future__ import annotations

from ssomw.pages.templating import Pages, validate_templates

SECTION = {"error": {"inline": "{% extends 'base.html' %}{% block content %}MINE{% endblock %}"},
           "messages": {"de": {"NOT_FOUND": "Hier nichts."}}}


def test_switched_off_templates_and_messages_are_not_in_force() -> None:
    on = Pages(SECTION)
    assert "MINE" in on.render("error", app_id=None, lang="en")
    assert on.message("NOT_FOUND", "de") == "Hier nichts."
    off = Pages({**SECTION, "disabled": ["error", "messages.de"]})
    assert "MINE" not in off.render("error", app_id=None, lang="en")
    assert off.message("NOT_FOUND", "de") != "Hier nichts."  # the shipped German text


def test_disabled_names_must_exist_and_disabled_templates_are_still_checked() -> None:
    errors = validate_templates({**SECTION, "disabled": ["error", "logout", "messages.fr"]})
    assert ("templates.disabled[1]", "'logout' names no custom template or message override "
            "here") in errors
    assert any(path == "templates.disabled[2]" for path, _ in errors)
    broken = validate_templates({"error": {"inline": "{% if %}"}, "disabled": ["error"]})
    assert broken and broken[0][0] == "templates.error"
