"""Sign-out in-process (issue 14, items 7 and 8): a GET only asks, a POST with the session's
token ends it, an RP's id_token_hint ends it; front-channel logout ends the browser's own
session when the cookie is there, and only if iss and sid are that session's."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import yaml
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.oidc.logout import logout_csrf
from ssomw.store.base import SessionRecord
from ssomw.wsgi import Gateway

HOST = "http://app.example.com"
ISSUER = "https://idp.example.com"
NEW_KEY, OLD_KEY = "n" * 40, "o" * 40


@pytest.fixture
def gw(tmp_path: Path) -> tuple[Client, Runtime]:
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": [NEW_KEY, OLD_KEY], "secure": False},
        "providers": [
            {"id": "idp", "issuer": ISSUER, "client_id": "gw", "client_secret": "s",
             "logout": {"rp_initiated": False, "frontchannel": True}},
            {"id": "other", "issuer": "https://other.example.com", "client_id": "gw",
             "client_secret": "s",
             "logout": {"rp_initiated": False, "frontchannel": True}}],
        "apps": [{"id": "app", "hosts": ["app.example.com"], "allowed_groups": ["staff"]}],
    }))
    runtime = Runtime.build(config)
    return Client(Gateway(config, runtime)), runtime


def signed_in(gw: tuple[Client, Runtime], user: str = "alice", sid: str = "sid-1",
              provider: str = "idp") -> tuple[Client, SessionRecord]:
    """A browser (its own cookie jar) with a session of ``user``."""
    _, runtime = gw
    record, cookie = runtime.sessions.create(
        user=user, provider=provider, sub=f"sub-{user}", sid=sid,
        data={"id_token": f"header.{user}-{sid}.signature", "groups": []})
    browser = Client(gw[0].application)
    browser.set_cookie("ssomw_session", cookie, domain="app.example.com")
    return browser, record


def alive(runtime: Runtime, record: SessionRecord) -> bool:
    return runtime.store.get_session(record.id) is not None


def store_rows(runtime: Runtime) -> list[tuple]:
    with sqlite3.connect(runtime.config["store"]["path"]) as conn:
        return (conn.execute("SELECT * FROM kv ORDER BY namespace, key").fetchall()
                + conn.execute("SELECT * FROM sessions ORDER BY id").fetchall())


def token_in(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]*)"', html).group(1)


def test_a_get_only_asks_and_writes_nothing(gw):
    browser, record = signed_in(gw)
    before = store_rows(gw[1])
    response = browser.get("/sso/logout?rd=/bye", base_url=HOST)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Sign out of every application?" in html
    assert 'action="/sso/logout"' in html and 'name="rd" value="/bye"' in html
    assert token_in(html) == logout_csrf([NEW_KEY], record.id)
    assert "Set-Cookie" not in response.headers and response.headers["Cache-Control"] == "no-store"
    assert alive(gw[1], record) and store_rows(gw[1]) == before


@pytest.mark.parametrize("data", [
    pytest.param({}, id="no-token"),
    pytest.param({"csrf": ""}, id="empty-token"),
    pytest.param({"csrf": "forged"}, id="forged-token"),
    pytest.param({"csrf": logout_csrf([NEW_KEY], "someone-elses-session")},
                 id="another-sessions-token"),
    pytest.param({"id_token_hint": "header.alice-other.signature"}, id="another-id-token"),
])
def test_a_post_without_this_sessions_token_asks_again(gw, data):
    browser, record = signed_in(gw)
    response = browser.post("/sso/logout", base_url=HOST, data=data)
    assert response.status_code == 400
    assert token_in(response.get_data(as_text=True)) == logout_csrf([NEW_KEY], record.id)
    assert alive(gw[1], record)


@pytest.mark.parametrize("key", [NEW_KEY, OLD_KEY], ids=["current-key", "rotated-key"])
def test_the_confirmation_post_ends_the_session(gw, key):
    browser, record = signed_in(gw)
    other, other_record = signed_in(gw, "bob", "sid-2")
    response = browser.post("/sso/logout", base_url=HOST,
                            data={"csrf": logout_csrf([key], record.id), "rd": "/bye"})
    assert response.status_code == 302 and response.headers["Location"] == "/bye"
    assert "ssomw_session=;" in response.headers["Set-Cookie"]
    assert not alive(gw[1], record) and alive(gw[1], other_record)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_sessions_own_id_token_as_hint_ends_it(gw, method):
    browser, record = signed_in(gw)
    response = browser.open("/sso/logout", base_url=HOST, method=method,
                            query_string={"id_token_hint": record.data["id_token"]})
    assert response.status_code == 302 and response.headers["Location"] == "/sso/logged-out"
    assert not alive(gw[1], record)


def test_without_a_session_the_signed_out_result_is_shown(gw):
    client, _ = gw
    response = client.get("/sso/logout?rd=/bye", base_url=HOST)
    assert response.status_code == 302 and response.headers["Location"] == "/bye"
    posted = client.post("/sso/logout", base_url=HOST)
    assert posted.headers["Location"] == "/sso/logged-out"
    # Sent no cookie (a cross-site POST, SameSite=Lax): no deletion that would sign it out.
    assert "Set-Cookie" not in response.headers and "Set-Cookie" not in posted.headers
    client.set_cookie("ssomw_session", "stale.cookie", domain="app.example.com")
    stale = client.get("/sso/logout", base_url=HOST)
    assert "ssomw_session=;" in stale.headers["Set-Cookie"]  # its own dead cookie: cleared


def test_the_403_page_signs_out_with_a_post_then_signs_in_to_the_app(gw):
    browser, record = signed_in(gw)  # in no group: the app refuses alice
    before = store_rows(gw[1])
    response = browser.get("/sso/forbidden", base_url=HOST,
                           headers={"X-Original-URL": f"{HOST}/page"})
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and store_rows(gw[1]) == before
    form = re.search(r'<form class="inline" method="post" action="/sso/logout">.*?</form>',
                     html, re.S).group(0)
    assert token_in(form) == logout_csrf([NEW_KEY], record.id)
    rd = re.search(r'name="rd" value="([^"]*)"', form).group(1)
    assert rd == "/sso/login?rd=http%3A%2F%2Fapp.example.com%2F"
    assert 'href="/sso/logout"' not in html
    ended = browser.post("/sso/logout", base_url=HOST, data={"csrf": token_in(form), "rd": rd})
    assert ended.status_code == 302 and not alive(gw[1], record)
    assert ended.headers["Location"] == rd  # on to a new sign-in for the app, not "signed out"


def test_the_403_page_offers_no_sign_out_without_a_session(gw):
    client, _ = gw
    html = client.get("/sso/forbidden", base_url=HOST).get_data(as_text=True)
    assert 'name="csrf"' not in html and "You are not signed in." in html


def frontchannel(browser: Client, iss: str = ISSUER, sid: str = "sid-1"):  # noqa: ANN201
    return browser.get("/sso/frontchannel-logout", base_url=HOST,
                       query_string={"iss": iss, "sid": sid})


def test_frontchannel_with_a_cookie_ends_only_that_browsers_session(gw):
    runtime = gw[1]
    laptop, on_laptop = signed_in(gw, "alice", "sid-1")
    phone, on_phone = signed_in(gw, "alice", "sid-1")  # the same provider session
    assert frontchannel(laptop).status_code == 200
    assert not alive(runtime, on_laptop) and alive(runtime, on_phone)


@pytest.mark.parametrize(("iss", "sid", "provider"), [
    pytest.param(ISSUER, "sid-2", "idp", id="another-sid"),
    pytest.param("https://other.example.com", "sid-1", "idp", id="another-provider"),
    pytest.param(ISSUER, "sid-1", "other", id="session-of-another-provider"),
])
def test_frontchannel_with_a_cookie_ends_nothing_that_is_not_its_session(gw, iss, sid,
                                                                         provider):
    runtime = gw[1]
    browser, record = signed_in(gw, "alice", "sid-1", provider)
    _, victim = signed_in(gw, "bob", sid, "idp")
    frontchannel(browser, iss, sid)
    assert alive(runtime, record) and alive(runtime, victim)


def test_frontchannel_without_a_cookie_ends_every_session_of_the_sid(gw):
    runtime = gw[1]
    _, first = signed_in(gw, "alice", "sid-1")
    _, second = signed_in(gw, "alice", "sid-1")
    _, other = signed_in(gw, "bob", "sid-2")
    client = Client(gw[0].application)
    client.set_cookie("ssomw_session", "forged.cookie", domain="app.example.com")
    assert frontchannel(client).status_code == 200
    assert not alive(runtime, first) and not alive(runtime, second) and alive(runtime, other)


def test_the_confirmation_lets_its_post_go_on_to_rd_and_nowhere_else(gw):
    browser, record = signed_in(gw)
    response = browser.get("/sso/logout", base_url=HOST,
                           query_string={"rd": "http://app.example.com/bye"})
    csp = response.headers["Content-Security-Policy"]
    assert "form-action 'self' http://app.example.com;" in csp
    assert "frame-ancestors 'none'" in csp and response.headers["X-Frame-Options"] == "DENY"
