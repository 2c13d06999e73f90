"""Sign-in level requirements (``Assurance``): checked on every decision, not only at sign-in."""

from __future__ import annotations

import pytest

from ssomw.core.policy import EMERGENCY_PROVIDER, Assurance, Identity, Policy

NOW = 10_000.0


def who(acr: str | None = None, auth_time: float | None = None,
        provider: str = "idp") -> Identity:
    return Identity("u", provider, frozenset(), acr=acr, auth_time=auth_time)


@pytest.mark.parametrize("params, identity, now, short", [
    pytest.param({"acr_values": "mfa hwk"}, who("mfa"), NOW, False, id="acr-one-of"),
    pytest.param({"acr_values": "mfa hwk"}, who("pwd"), NOW, True, id="acr-weaker"),
    pytest.param({"acr_values": "mfa"}, who(None), NOW, True, id="acr-missing"),
    pytest.param({"max_age": "300"}, who(auth_time=NOW - 299), NOW, False, id="recent"),
    pytest.param({"max_age": "300"}, who(auth_time=NOW - 301), NOW, True, id="too-old"),
    pytest.param({"max_age": "300"}, who(auth_time=None), NOW, True, id="no-auth-time"),
    pytest.param({"max_age": "300"}, who(auth_time=NOW), None, True, id="no-clock-fails-closed"),
    pytest.param({"acr_values": "mfa"}, who(provider=EMERGENCY_PROVIDER), NOW, False,
                 id="emergency-session-passes"),
])
def test_shortfall(params: dict, identity: Identity, now: float | None, short: bool) -> None:
    assurance = Assurance.from_auth_params(params)
    assert assurance is not None
    assert (assurance.shortfall(identity, now) is not None) is short


@pytest.mark.parametrize("params", [{}, {"ui_locales": "de"}, {"max_age": "soon"}])
def test_no_requirement(params: dict) -> None:
    assert Assurance.from_auth_params(params) is None


def test_decision_asks_a_weaker_session_to_sign_in_again() -> None:
    policy = Policy.build([
        {"id": "plain", "hosts": ["a.example.com"]},
        {"id": "mfa", "hosts": ["m.example.com"], "auth_params": {"acr_values": "mfa"}}])
    plain, mfa = policy.apps
    weak = Identity("u", "idp", frozenset(), acr="pwd")
    assert policy.decide(plain, "GET", "/", "", weak, NOW).outcome == "allow"
    decision = policy.decide(mfa, "GET", "/", "", weak, NOW)
    assert decision.outcome == "login" and "acr pwd is not one of mfa" in decision.reason
    strong = Identity("u", "idp", frozenset(), acr="mfa")
    assert policy.decide(mfa, "GET", "/", "", strong, NOW).outcome == "allow"


def test_bad_max_age_is_a_config_error() -> None:
    from ssomw.core.policy import PolicyError
    with pytest.raises(PolicyError) as caught:
        Policy.build([{"id": "a", "hosts": ["a.example.com"], "auth_params": {"max_age": "1h"}}])
    assert ("apps[0].auth_params.max_age", "must be a whole number of seconds") in \
        caught.value.errors
