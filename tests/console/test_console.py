"""The admin console in-process (contract §11): who gets in, CSRF, the review before every
change, and that each change is the REST API's (a version, an audit event, the same rules)."""

from __future__ import annotations

import io
import json
import re

import pytest

from ssomw.telemetry import audit

from .conftest import HOST, Console

SECRETS = ("idp-client-secret-value", "partner-client-secret", "k" * 40, "old-key-")
PAGES = ["/", "/apps", "/apps/wiki", "/providers", "/groups", "/groups?user=olga",
         "/sessions", "/sessions?user=olga", "/audit", "/versions", "/versions/diff?a=1&b=1",
         "/explain?url=https://wiki.example.com/admin/x&user=olga", "/transfer", "/templates",
         "/templates/edit?name=error", "/templates/messages?lang=de"]


def review_of(console: Console, response) -> tuple[str, str]:  # noqa: ANN001
    """(the review page's HTML, its apply URL) after a change was proposed."""
    page = console.follow(response)
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    html = page.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+/review/[^"]+)"', html)
    assert action, html[:3000]
    return html, action.group(1).removeprefix("/sso/admin")


def active_version(console: Console) -> int | None:
    return console.gateway.versions.active_number()


def test_who_gets_in(make_console) -> None:
    admin = make_console().gateway.file_config.raw["admin"]
    off = make_console(admin={**admin, "console": {"groups": []}})
    off.sign_in()
    assert off.get("/").status_code == 404  # no groups: the console is off

    console = make_console()
    anonymous = console.get("/apps?x=1")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/sso/login?rd=%2Fsso%2Fadmin%2Fapps%3Fx%3D1"
    console.sign_in("mallory", groups=("staff",))
    assert console.get("/").status_code == 403
    console.sign_in("frank", groups=("ops",), provider="emergency")  # the provider is down
    page = console.get("/")
    assert page.status_code == 200 and "Signed in as <strong>frank</strong>" in page.text
    assert console.get("/static/console.js").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_safe_to_show(console: Console, path: str) -> None:
    page = console.get(path)
    assert page.status_code == 200, page.text[:2000]
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "<script>" not in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    for secret in SECRETS:
        assert secret not in page.text, (path, secret)
    for form in re.findall(r'<form method="post".*?</form>', page.text, re.DOTALL):
        assert 'name="csrf"' in form, form[:300]


def test_a_post_without_the_csrf_token_changes_nothing(console: Console) -> None:
    before = active_version(console)
    for data in ({"sso": "off"}, {"sso": "off", "csrf": "forged"}):
        answer = console.post("/apps/wiki/sso", data, csrf=False)
        assert answer.status_code == 403 and "Nothing was changed" in answer.text
    assert active_version(console) == before


def test_the_sso_toggle_goes_through_review_and_the_service(console: Console) -> None:
    console.runtime.sessions.create(user="bob", provider="idp", sub="bob", sid=None,
                                    data={"groups": ["staff"]})
    assert console.runtime.config.policy.app_by_id("wiki").sso
    html, apply = review_of(console, console.post("/apps/wiki/sso", {"sso": "off"}))
    assert "Review: Turn SSO off for wiki" in html
    assert "+ apps[0].sso: false" in html
    assert "Looked at: 2 known user(s)" in html and "wiki: allow → bypass" in html
    assert active_version(console) == 1  # nothing applied by looking

    done = console.post(f"{apply}", {"confirm": "apply"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/sso/admin/apps")
    assert active_version(console) == 2
    event = audit.query(console.gateway.store, event_type="config_changed")[-1]
    assert event["author"] == "console:olga" and event["via"] == "console"
    console.reload()
    assert not console.runtime.config.policy.app_by_id("wiki").sso
    assert "Version 2 is active: Turn SSO off for wiki" in console.follow(done).text
    # the proposal is used up
    assert console.post(apply, {"confirm": "apply"}).status_code == 404


def test_errors_are_shown_at_their_fields_and_nothing_changes(console: Console) -> None:
    form = {"hosts": "wiki.example.com", "sso": "on", "denied_action": "forbidden",
            "allowed_groups": "", "rules": "- {paths: ['^/(x'], policy: bypass}\n"
                                           "- {policy: sometimes}"}
    answer = console.post("/apps/wiki", form)
    assert answer.status_code == 422
    errors = re.search(r'id="rules-errors">(.*?)</ul>', answer.text, re.DOTALL).group(1)
    assert "rules[0].paths[0]: invalid regular expression" in errors
    assert "rules[1].policy" in errors
    assert 'aria-invalid="true"' in answer.text and "^/(x" in answer.text  # input kept
    bad_yaml = console.post("/apps/wiki", {**form, "rules": "- [unclosed"})
    assert bad_yaml.status_code == 422 and "line 1: expected &#39;,&#39; or &#39;]&#39;" in \
        bad_yaml.text
    assert active_version(console) == 1


def test_a_change_made_meanwhile_is_a_conflict(console: Console) -> None:
    _, first = review_of(console, console.post("/apps/wiki/sso", {"sso": "off"}))
    _, second = review_of(console, console.post("/apps/desk/sso", {"sso": "off"}))
    assert console.post(second, {"confirm": "apply"}).status_code == 303
    stale = console.post(first, {"confirm": "apply"})
    assert stale.status_code == 412 and "changed by someone else" in stale.text
    assert active_version(console) == 2


def test_sessions_are_ended_after_a_confirmation(console: Console) -> None:
    bob = console.runtime.sessions.create(user="bob", provider="idp", sub="bob", sid=None,
                                          data={"groups": []})[0]
    console.runtime.sessions.create(user="bob", provider="idp", sub="bob", sid=None,
                                    data={"groups": []})
    listed = console.get("/sessions?user=bob")
    assert listed.text.count(bob.id) >= 1 and "End all sessions of bob" in listed.text
    ask = console.post("/sessions/end", {"session": bob.id})
    assert ask.status_code == 200 and "End session" in ask.text and 'value="yes"' in ask.text
    assert console.runtime.store.get_session(bob.id) is not None
    console.post("/sessions/end", {"session": bob.id, "confirm": "yes"})
    assert console.runtime.store.get_session(bob.id) is None
    console.post("/sessions/end", {"user": "bob", "confirm": "yes"})
    assert console.runtime.store.sessions_by_user("bob") == []
    kinds = [e["type"] for e in audit.query(console.gateway.store)]
    assert "session_revoked" in kinds and "user_sessions_revoked" in kinds
    found = console.get("/audit?type=session_revoked&user=olga").text
    assert "session_revoked" in found and "1 event(s)" in found


def test_versions_diff_and_rollback(console: Console) -> None:
    _, apply = review_of(console, console.post("/apps/wiki/sso", {"sso": "off"}))
    console.post(apply, {"confirm": "apply"})
    diff = console.get("/versions/diff?a=1&b=2").text
    assert "+ apps[0].sso: false" in diff
    html, apply = review_of(console, console.post("/versions/1/rollback"))
    assert "Roll back to version 1" in html and "- apps[0].sso" in html
    console.post(apply, {"confirm": "apply"})
    assert active_version(console) == 3
    console.reload()
    assert console.runtime.config.policy.app_by_id("wiki").sso


def test_export_never_shows_a_secret_and_import_is_reviewed(console: Console) -> None:
    download = console.post("/transfer/export", {"secrets": "redact"})
    assert download.headers["Content-Disposition"].startswith("attachment;")
    doc = json.loads(download.text)
    assert doc["secrets"] == "redacted"
    assert not any(secret in download.text for secret in SECRETS)
    short = console.post("/transfer/export", {"secrets": "encrypt", "passphrase": "short",
                                              "passphrase2": "short"})
    assert short.status_code == 422 and "at least 12" in short.text
    sealed = console.post("/transfer/export", {"secrets": "encrypt",
                                               "passphrase": "correct horse battery",
                                               "passphrase2": "correct horse battery"})
    assert json.loads(sealed.text)["secrets"] == "encrypted"

    doc["config"]["apps"][1]["allowed_groups"] = ["agents", "contractors"]
    upload = {"backup": (io.BytesIO(json.dumps(doc).encode()), "backup.json")}
    html, apply = review_of(console, console.post("/transfer/import", upload))
    assert "Import backup.json" in html and "contractors" in html
    console.post(apply, {"confirm": "apply"})
    assert active_version(console) == 2
    wrong = console.post("/transfer/import", {"backup": (io.BytesIO(sealed.data), "s.json"),
                                              "passphrase": "wrong passphrase!!"})
    assert wrong.status_code == 422 and "passphrase" in wrong.text


def test_groups_preview_for_one_user(console: Console) -> None:
    from ssomw.core.groups import Grant
    from ssomw.identity.users import USERS, UserRecord
    record = UserRecord("dora", 1.0, [Grant("eng", "idp", "eng", ("idp claim value",))],
                        idp_groups=["eng"], subjects=[["idp", "dora"]])
    console.runtime.store.kv_set(USERS, "dora", record.dumps(), None)
    page = console.post("/groups", {"mapping": "map: {eng: [engineering, staff]}",
                                    "user": "dora", "action": "preview"})
    assert page.status_code == 200
    then = page.text.split("With the mapping above", 1)[1]
    assert "engineering" in then and "staff" in then and "map" in then
    assert active_version(console) == 1
    bad = console.post("/groups", {"mapping": "map: {eng: 7}", "user": "dora",
                                   "action": "review"})
    assert bad.status_code == 422 and "groups.map.eng" in bad.text
    saved = console.post("/groups/local", {"user": "dora", "local": "wiki-editors"})
    assert "wiki-editors" in console.follow(saved).text


def test_templates_edit_preview_switch(console: Console) -> None:
    text = ('{% extends "base.html" %}{% block content %}<h1>Custom {{ code }}</h1>'
            '{% endblock %}')
    preview = console.post("/templates/preview", {"name": "error", "text": text,
                                                  "lang": "en"})
    assert preview.status_code == 200 and "<h1>Custom INVALID_RESPONSE</h1>" in preview.text
    csp = preview.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "frame-ancestors 'self'" in csp and "script-src" not in csp
    escape = console.post("/templates/preview", {"name": "error", "lang": "en",
                                                 "text": "{{ ''.__class__.__mro__ }}"})
    assert "has a problem" in escape.text and "is unsafe" in escape.text
    assert "&lt;class" not in escape.text
    broken = console.post("/templates/preview", {"name": "error", "text": "{% if %}"})
    assert "line 1" in broken.text

    html, apply = review_of(console, console.post("/templates/edit?name=error",
                                                  {"text": text, "action": "save"}))
    assert "templates.error" in html
    console.post(apply, {"confirm": "apply"})
    console.reload()
    assert "Custom" in console.runtime.pages.render("error", app_id=None, lang="en")
    listed = console.get("/templates").text
    assert 'aria-label="Custom error template"' in listed

    _, apply = review_of(console, console.post("/templates/switch",
                                               {"name": "error", "on": "no"}))
    console.post(apply, {"confirm": "apply"})
    console.reload()
    assert "Custom" not in console.runtime.pages.render("error", app_id=None, lang="en")
    _, apply = review_of(console, console.post("/templates/messages?lang=de", {
        "m.NOT_FOUND": "Hier ist nichts, wirklich."}))
    console.post(apply, {"confirm": "apply"})
    console.reload()
    assert console.runtime.pages.message("NOT_FOUND", "de") == "Hier ist nichts, wirklich."


def test_a_console_page_is_never_framed_but_the_preview_is_by_its_editor(
        console: Console) -> None:
    assert console.get("/templates/edit?name=error").headers["X-Frame-Options"] == "DENY"
    preview = console.get("/templates/preview?name=error")
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert HOST  # the cookie's host
