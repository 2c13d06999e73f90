"""The code and token rules as a table (``tests/data/broker_code_cases.yaml``), and the rules
that take more than one request: replay, expiry, another client's code, a session that ended
between the code and its redemption. Every refusal is an OAuth error or the error page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssomw.broker import tokens
from tests.broker.conftest import HOST, JIRA_CB, SECRET, SPA_CB, jira_code, pkce, query_of

CASES = yaml.safe_load((Path(__file__).parents[1] / "data/broker_code_cases.yaml").read_text())


def changed(base: dict[str, str], changes: dict[str, Any] | None) -> dict[str, str]:
    out = {**base, **{k: v for k, v in (changes or {}).items() if v is not None}}
    return {k: v for k, v in out.items() if (changes or {}).get(k, "") is not None}


def base_authorize(client: str, challenge: str | None) -> dict[str, str]:
    params = {"response_type": "code", "client_id": client, "state": "st", "nonce": "n",
              "scope": "openid email", "redirect_uri": JIRA_CB if client == "jira" else SPA_CB}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    return params


@pytest.mark.parametrize("case", CASES["authorize"], ids=[c["id"] for c in CASES["authorize"]])
def test_authorize_refusals(broker, case):
    broker.sign_in("alice")
    client = case.get("client", "jira")
    params = changed(base_authorize(client, pkce()[1] if client == "spa" else None),
                     case.get("params"))
    response = broker.authorize(**params)
    if "page" in case:
        assert response.status_code == case["page"]
        assert "Location" not in response.headers  # never to an untrusted redirect URI
        assert "text/html" in response.headers["Content-Type"]
    else:
        registered = JIRA_CB if client == "jira" else SPA_CB
        assert response.status_code == 302
        assert response.headers["Location"].startswith(registered + "?")
        query = query_of(response.headers["Location"])
        assert query["error"] == case["error"] and query["state"] == "st"
        assert "code" not in query


@pytest.mark.parametrize("case", CASES["token"], ids=[c["id"] for c in CASES["token"]])
def test_token_rules(broker, case):
    broker.sign_in("alice")
    client = case.get("client", "jira")
    verifier, challenge = pkce()
    response = broker.authorize(**base_authorize(client, challenge if client == "spa" else None))
    code = query_of(response.headers["Location"])["code"]
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": JIRA_CB if client == "jira" else SPA_CB}
    if client == "spa":
        form.update(client_id="spa", code_verifier=verifier)
    auth = case.get("auth", "basic" if client == "jira" else "none")
    basic = None
    if auth in ("basic", "basic-wrong"):
        basic = ("jira", SECRET if auth == "basic" else "wrong-secret")
    elif auth in ("post", "post-wrong"):
        form.update(client_id="jira", client_secret=SECRET if auth == "post" else "wrong")
    response = broker.token(changed(form, case.get("form")), auth=basic)
    assert response.status_code == case["status"], response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    if "error" in case:
        assert response.json["error"] == case["error"]
        assert "access_token" not in response.json
    else:
        assert response.json["access_token"] and response.json["id_token"]


def redeem(broker, code: str) -> Any:
    return broker.token({"grant_type": "authorization_code", "code": code,
                         "redirect_uri": JIRA_CB}, auth=("jira", SECRET))


def userinfo(broker, access_token: str) -> int:
    return broker.client.get("/sso/broker/userinfo", base_url=HOST, headers={
        "Authorization": f"Bearer {access_token}"}).status_code


def test_a_replayed_code_is_refused_and_revokes_the_tokens_it_gave(broker):
    broker.sign_in("alice")
    code = jira_code(broker)
    first = redeem(broker, code)
    assert first.status_code == 200 and userinfo(broker, first.json["access_token"]) == 200
    again = redeem(broker, code)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"
    assert userinfo(broker, first.json["access_token"]) == 401


def test_a_code_lives_at_most_its_lifetime(broker, monkeypatch):
    monkeypatch.setattr(tokens, "CODE_LIFETIME", 0.2)
    broker.sign_in("alice")
    code = jira_code(broker)
    time.sleep(0.4)
    assert redeem(broker, code).json["error"] == "invalid_grant"
    assert tokens.CODE_LIFETIME <= 60  # and the real one is at most a minute
    monkeypatch.undo()
    assert tokens.CODE_LIFETIME <= 60


def test_another_clients_code_is_refused_and_spent(broker):
    broker.sign_in("alice")
    verifier, challenge = pkce()
    response = broker.authorize(**base_authorize("spa", challenge))
    code = query_of(response.headers["Location"])["code"]
    stolen = broker.token({"grant_type": "authorization_code", "code": code,
                           "redirect_uri": SPA_CB}, auth=("jira", SECRET))
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    rightful = broker.token({"grant_type": "authorization_code", "code": code,
                             "redirect_uri": SPA_CB, "client_id": "spa",
                             "code_verifier": verifier})
    assert rightful.json["error"] == "invalid_grant"  # a code is tried once, by anyone


def test_a_session_that_ended_before_redemption_gives_no_tokens(broker):
    record = broker.sign_in("alice")
    code = jira_code(broker)
    broker.runtime.sessions.end(record.id)
    response = redeem(broker, code)
    assert response.status_code == 400 and response.json["error"] == "invalid_grant"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nope", "Basic eDp5",
                                    "Bearer " + "x" * 5000])
def test_userinfo_refuses_anything_but_a_live_token(broker, header):
    response = broker.client.get("/sso/broker/userinfo", base_url=HOST,
                                 headers={"Authorization": header} if header else {})
    assert response.status_code in (400, 401)
    assert response.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", ["/sso/broker/token", "/sso/broker/authorize",
                                  "/sso/broker/end-session"])
def test_garbage_never_makes_a_500(broker, path):
    for body in (b"\xff\xfe", b"a=%zz&&&=", b"x" * 70000):
        response = broker.client.post(path, data=body, base_url=HOST, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code < 500, (path, body[:10], response.status_code)


def test_guessing_client_secrets_is_limited_per_address(broker):
    from ssomw.broker.server import AUTH_FAILURE_LIMIT

    broker.sign_in("alice")
    code = jira_code(broker)
    for _ in range(AUTH_FAILURE_LIMIT + 1):
        wrong = broker.token({"grant_type": "authorization_code", "code": "x",
                              "redirect_uri": JIRA_CB}, auth=("jira", "guess"))
        assert wrong.status_code == 401
    blocked = redeem(broker, code)  # even the right secret waits a minute now
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"
    assert blocked.json["error"] == "invalid_request"
