"""The broker in-process: a signed-in browser gets a code, the client gets tokens whose
claims are the session's, userinfo answers while the session lives, discovery and JWKS say
where everything is."""

from __future__ import annotations

import time

from joserfc import jwt
from joserfc.jwk import KeySet

from tests.broker.conftest import HOST, ISSUER, JIRA_CB, SECRET, SPA_CB, jira_code, pkce, query_of


def verify(b, token: str) -> dict:
    keys = KeySet.import_key_set(b.client.get("/sso/broker/jwks.json", base_url=HOST).json)
    return dict(jwt.decode(token, keys, algorithms=["ES256"]).claims)


def test_discovery_names_every_endpoint_under_the_issuer(broker):
    doc = broker.client.get("/sso/.well-known/openid-configuration", base_url=HOST).json
    assert doc["issuer"] == ISSUER
    for key, path in [("authorization_endpoint", "authorize"), ("token_endpoint", "token"),
                      ("userinfo_endpoint", "userinfo"), ("jwks_uri", "jwks.json"),
                      ("end_session_endpoint", "end-session")]:
        assert doc[key] == f"{ISSUER}/broker/{path}"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["ES256"]
    assert doc["backchannel_logout_supported"] is True


def test_a_signed_in_user_gets_a_code_and_the_client_tokens_with_their_claims(broker):
    record = broker.sign_in("alice", auth_time=time.time() - 30)
    code = jira_code(broker)
    response = broker.token({"grant_type": "authorization_code", "code": code,
                             "redirect_uri": JIRA_CB}, auth=("jira", SECRET))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["token_type"].lower() == "bearer" and body["expires_in"] <= 300
    assert response.headers["Cache-Control"] == "no-store"
    claims = verify(broker, body["id_token"])
    assert claims["iss"] == ISSUER and claims["aud"] == "jira" and claims["sub"] == "alice"
    assert claims["nonce"] == "n-1" and claims["groups"] == ["staff"]
    assert claims["email"] == "alice@example.com" and claims["department"] == "Engineering"
    assert claims["exp"] - claims["iat"] <= 300
    assert abs(claims["auth_time"] - (time.time() - 30)) < 3
    assert claims["sid"] and claims["sid"] != record.id and "at_hash" in claims
    info = broker.client.get("/sso/broker/userinfo", base_url=HOST,
                             headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200 and info.json["sub"] == "alice"
    assert info.json["groups"] == ["staff"]
    broker.runtime.sessions.end(record.id)  # the ssomw session ends: the token is worthless
    info = broker.client.get("/sso/broker/userinfo", base_url=HOST,
                             headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 401 and "invalid_token" in info.headers["WWW-Authenticate"]


def test_scopes_decide_the_claims(broker):
    broker.sign_in("alice")
    code = jira_code(broker)
    body = broker.token({"grant_type": "authorization_code", "code": code,
                         "redirect_uri": JIRA_CB}, auth=("jira", SECRET)).json
    assert "groups" in verify(broker, body["id_token"])
    response = broker.authorize(response_type="code", client_id="spa", redirect_uri=SPA_CB,
                                scope="openid email groups profile", state="s",
                                code_challenge=pkce()[1], code_challenge_method="S256")
    assert response.status_code == 302 and "code" in query_of(response.headers["Location"])


def test_a_public_client_with_pkce(broker):
    broker.sign_in("alice")
    verifier, challenge = pkce()
    response = broker.authorize(response_type="code", client_id="spa", redirect_uri=SPA_CB,
                                scope="openid email groups", state="s", nonce="n",
                                code_challenge=challenge, code_challenge_method="S256")
    code = query_of(response.headers["Location"])["code"]
    response = broker.token({"grant_type": "authorization_code", "code": code,
                             "redirect_uri": SPA_CB, "client_id": "spa",
                             "code_verifier": verifier})
    assert response.status_code == 200, response.get_data(as_text=True)
    claims = verify(broker, response.json["id_token"])
    assert claims["email"] == "alice@example.com" and "groups" not in claims  # not its scope


def test_a_user_outside_the_apps_groups_gets_the_403_page_and_no_code(broker):
    broker.sign_in("bob", groups=("guests",))
    response = broker.authorize(response_type="code", client_id="jira", redirect_uri=JIRA_CB,
                                scope="openid", state="st")
    assert response.status_code == 403 and "Location" not in response.headers
    assert "code=" not in response.get_data(as_text=True)


def test_without_a_session_the_request_waits_while_the_user_signs_in(broker):
    response = broker.authorize(response_type="code", client_id="jira", redirect_uri=JIRA_CB,
                                scope="openid", state="st")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/sso/login?rd=%2Fsso%2Fbroker%2Fauthorize%3Fresume%3D")
    broker.sign_in("alice")
    resume = query_of(location)["rd"]
    response = broker.client.get(resume, base_url=HOST)
    assert response.status_code == 302 and response.headers["Location"].startswith(JIRA_CB)
    assert query_of(response.headers["Location"])["state"] == "st"


def test_prompt_none_without_a_session_answers_login_required(broker):
    response = broker.authorize(response_type="code", client_id="jira", redirect_uri=JIRA_CB,
                                scope="openid", state="st", prompt="none")
    query = query_of(response.headers["Location"])
    assert response.headers["Location"].startswith(JIRA_CB)
    assert query["error"] == "login_required" and query["state"] == "st"


def test_prompt_none_never_starts_a_sign_in(broker):
    broker.sign_in("bob", groups=("guests",), auth_time=time.time() - 600)
    response = broker.authorize(response_type="code", client_id="jira", redirect_uri=JIRA_CB,
                                scope="openid", state="st", prompt="none", max_age="60")
    query = query_of(response.headers["Location"])
    assert query["error"] == "login_required" and query["state"] == "st"


def test_prompt_login_and_max_age_ask_for_a_fresh_sign_in(broker):
    broker.sign_in("alice", auth_time=time.time() - 600)
    for extra in ({"prompt": "login"}, {"max_age": "300"}):
        response = broker.authorize(response_type="code", client_id="jira",
                                    redirect_uri=JIRA_CB, scope="openid", state="st", **extra)
        assert response.status_code == 302 and response.headers["Location"].startswith(
            "/sso/login?rd="), extra
    response = broker.authorize(response_type="code", client_id="jira", redirect_uri=JIRA_CB,
                                scope="openid", state="st", max_age="900")
    assert response.headers["Location"].startswith(JIRA_CB)


def test_keys_rotate_with_ssomw_keys_rotate_and_old_tokens_still_verify(broker):
    from tests.broker.conftest import JIRA_CB as cb

    broker.sign_in("alice")
    before = broker.token({"grant_type": "authorization_code", "code": jira_code(broker),
                           "redirect_uri": cb}, auth=("jira", SECRET)).json["id_token"]
    new = broker.runtime.keys.rotate()
    broker.runtime.keys.keys(fresh=True)
    after = broker.token({"grant_type": "authorization_code", "code": jira_code(broker),
                          "redirect_uri": cb}, auth=("jira", SECRET)).json["id_token"]
    assert jwt.decode(after, KeySet.import_key_set(
        broker.client.get("/sso/broker/jwks.json", base_url=HOST).json),
        algorithms=["ES256"]).header["kid"] == new.kid
    assert verify(broker, before)["sub"] == "alice"  # the old key is still published


def test_the_sign_in_for_a_broker_client_follows_its_apps_providers(tmp_path):
    """Without a session the user signs in as for the client's app: here the choice page
    offers only the providers the app allows (the gateway's own host is no app)."""
    import yaml
    from werkzeug.test import Client

    from ssomw.config import from_text
    from ssomw.gateway.runtime import Runtime
    from ssomw.wsgi import Gateway
    from tests.broker.conftest import broker_config

    raw = broker_config(tmp_path)
    raw["providers"] += [
        {"id": "partner", "name": "Partner IdP", "issuer": "https://partner.example.com",
         "client_id": "gw", "client_secret": "s"},
        {"id": "staff", "name": "Staff IdP", "issuer": "https://staff.example.com",
         "client_id": "gw", "client_secret": "s"}]
    raw["apps"][0]["providers"] = ["idp", "partner"]
    raw["routing"] = {"default": "choose"}
    config = from_text(yaml.safe_dump(raw))
    client = Client(Gateway(config, Runtime.build(config)))
    response = client.get("/sso/broker/authorize?response_type=code&client_id=jira&scope=openid"
                          f"&redirect_uri={JIRA_CB}&state=s", base_url=HOST)
    login = client.get(response.headers["Location"], base_url=HOST)
    page = login.get_data(as_text=True)
    assert login.status_code == 200 and "Partner IdP" in page and "Staff IdP" not in page
    assert "idp=partner" in page and "resume" in page  # the choice leads back to the broker
