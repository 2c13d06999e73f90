"""Logout both ways, in-process: the broker's end-session (RP-initiated) and the back-channel
fan-out to clients when an ssomw session ends for any reason (bounded retries, audited)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet

from ssomw.broker import logout
from ssomw.broker.tokens import broker_sid
from ssomw.telemetry import audit
from tests.broker.conftest import HOST, ISSUER, JIRA_CB, SECRET, jira_code


@dataclass
class FakeClient:
    client_id: str
    backchannel_logout_uri: str | None


def id_token_of(broker) -> str:
    code = jira_code(broker)
    return broker.token({"grant_type": "authorization_code", "code": code,
                         "redirect_uri": JIRA_CB}, auth=("jira", SECRET)).json["id_token"]


def end_session(broker, **params: str):
    return broker.client.get("/sso/broker/end-session?" + urlencode(params), base_url=HOST)


def test_end_session_with_the_sessions_id_token_ends_it_and_returns_to_the_client(broker):
    record = broker.sign_in("alice")
    response = end_session(broker, id_token_hint=id_token_of(broker),
                           post_logout_redirect_uri="https://jira.example.com/", state="bye")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://jira.example.com/?state=bye"
    assert broker.runtime.store.get_session(record.id) is None
    assert "ssomw_session=;" in response.headers["Set-Cookie"]


def test_end_session_without_proof_only_asks(broker):
    record = broker.sign_in("alice")
    response = end_session(broker, client_id="jira",
                           post_logout_redirect_uri="https://jira.example.com/")
    assert response.status_code == 302 and response.headers["Location"] == "/sso/logout"
    assert broker.runtime.store.get_session(record.id) is not None


def test_end_session_with_another_sessions_token_ends_nothing(broker):
    broker.sign_in("alice")
    hint = id_token_of(broker)
    record = broker.sign_in("alice")  # a new session in this browser
    response = end_session(broker, id_token_hint=hint)
    assert response.headers["Location"] == "/sso/logout"
    assert broker.runtime.store.get_session(record.id) is not None


def test_end_session_never_redirects_to_an_unregistered_uri(broker):
    record = broker.sign_in("alice")
    response = end_session(broker, id_token_hint=id_token_of(broker),
                           post_logout_redirect_uri="https://evil.example.net/", state="x")
    assert "evil" not in response.headers.get("Location", "")
    assert broker.runtime.store.get_session(record.id) is None  # the proof was good


def test_a_forged_id_token_hint_is_an_error_page(broker):
    broker.sign_in("alice")
    response = end_session(broker, id_token_hint="eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
    assert response.status_code == 400 and "Location" not in response.headers


def test_only_clients_with_a_backchannel_uri_are_noted_against_a_session(broker):
    record = broker.sign_in("alice")
    id_token_of(broker)  # jira has no backchannel_logout_uri (e2e: Apache has one)
    assert logout.Links(broker.runtime.store).clients_of(record.id) == []


def fan_out(broker, sent, clients, now=1000.0):
    def send(uri, token):
        sent.append((uri, token))
        return outcomes.pop(0) if outcomes else None

    outcomes = getattr(fan_out, "outcomes", [])
    broker.runtime.store.kv_delete("lock", "broker-logout")
    return logout.fan_out_round(broker.runtime.store, broker.runtime.keys, ISSUER,
                                clients.get, broker_sid, now=now, send=send)


def test_when_a_session_ends_every_client_holding_it_gets_a_signed_logout_token(broker):
    record = broker.sign_in("alice")
    other = broker.sign_in("bob")
    links = logout.Links(broker.runtime.store)
    links.add(record.id, "jira", "alice")
    links.add(other.id, "jira", "bob")
    clients = {"jira": FakeClient("jira", "https://jira.example.com/bcl")}
    sent: list = []
    fan_out.outcomes = []
    assert fan_out(broker, sent, clients) == 0 and sent == []  # both sessions alive
    broker.runtime.sessions.end(record.id)  # for any reason: here a revoke
    assert fan_out(broker, sent, clients) == 1
    uri, token = sent[0]
    keys = KeySet.import_key_set(broker.runtime.keys.jwks())
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    assert uri == "https://jira.example.com/bcl" and decoded.header["typ"] == "logout+jwt"
    claims = decoded.claims
    assert claims["iss"] == ISSUER and claims["aud"] == "jira" and claims["sub"] == "alice"
    assert claims["sid"] == broker_sid(record.id) and "nonce" not in claims
    assert claims["events"] == {logout.BACKCHANNEL_EVENT: {}} and claims["jti"]
    assert fan_out(broker, sent, clients) == 0 and len(sent) == 1  # told once
    events = audit.query(broker.runtime.store, event_type="logout")
    assert any(e.get("kind") == "broker_backchannel" and e["outcome"] == "delivered"
               for e in events)


def test_a_failing_client_is_retried_a_bounded_number_of_times_then_given_up(broker):
    record = broker.sign_in("alice")
    logout.Links(broker.runtime.store).add(record.id, "jira", "alice")
    broker.runtime.sessions.end(record.id)
    clients = {"jira": FakeClient("jira", "https://jira.example.com/bcl")}
    sent: list = []
    fan_out.outcomes = ["HTTP 500"] * 10
    now = 1000.0
    for _ in range(10):
        fan_out(broker, sent, clients, now=now)
        now += 60
    assert len(sent) == 1 + len(logout.RETRY_AFTER)
    failed = [e for e in audit.query(broker.runtime.store, event_type="logout")
              if e.get("kind") == "broker_backchannel"]
    assert [e["outcome"] for e in failed] == ["failed"] and failed[0]["error"] == "HTTP 500"


def test_retries_wait_their_turn(broker):
    record = broker.sign_in("alice")
    logout.Links(broker.runtime.store).add(record.id, "jira", "alice")
    broker.runtime.sessions.end(record.id)
    clients = {"jira": FakeClient("jira", "https://jira.example.com/bcl")}
    sent: list = []
    fan_out.outcomes = ["ConnectTimeout"]
    fan_out(broker, sent, clients, now=1000.0)
    fan_out(broker, sent, clients, now=1000.5)  # too early for the second attempt
    assert len(sent) == 1
    fan_out(broker, sent, clients, now=1000.0 + logout.RETRY_AFTER[0])
    assert len(sent) == 2


def test_a_client_without_a_backchannel_uri_is_only_forgotten(broker):
    record = broker.sign_in("alice")
    logout.Links(broker.runtime.store).add(record.id, "jira", "alice")
    broker.runtime.sessions.end(record.id)
    sent: list = []
    fan_out.outcomes = []
    fan_out(broker, sent, {"jira": FakeClient("jira", None)})
    assert sent == [] and logout.Links(broker.runtime.store).clients_of(record.id) == []


def test_hostile_id_token_hints_are_error_pages(broker):
    broker.sign_in("alice")
    id_token_of(broker)
    for hint in ("x", "a.b.c", "e30.e30.", "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJqaXJhIn0.c2ln",
                 "." * 5000):
        response = end_session(broker, id_token_hint=hint)
        assert response.status_code == 400 and "Location" not in response.headers, hint
