"""Sign-in level requirements (``Assurance``): checked on every decision, not only at sign-in."""

from __future__ import annotations

import pytest

from ssomw.core.assurance import EMERGENCY_PROVIDER, Assurance, Identity
from ssomw.core.policy import Policy

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


# --- step-up per rule (contract §9): apps[].rules[].max_age and .acr ------------------------

STEP_UP = Policy.build([
    {"id": "wiki", "hosts": ["wiki.example.com"], "rules": [
        {"paths": ["^/public/"], "policy": "bypass"},
        {"paths": ["^/admin/"], "policy": "authenticated", "max_age": 300},
        {"paths": ["^/vault/"], "policy": "authenticated", "acr": ["mfa", "hwk"]},
        {"paths": ["^/keys/"], "policy": "authenticated", "acr": ["hwk"], "max_age": 60}]},
    {"id": "strict", "hosts": ["strict.example.com"], "auth_params": {"acr_values": "mfa hwk",
                                                                       "max_age": "3600"},
     "rules": [{"paths": ["^/root/"], "policy": "authenticated", "acr": ["hwk", "pwd"],
                "max_age": 120}]},
])
WIKI, STRICT = STEP_UP.apps


@pytest.mark.parametrize("app, path, identity, outcome", [
    pytest.param(WIKI, "/page", who("pwd", NOW - 86_400), "allow", id="other-paths-never-ask"),
    pytest.param(WIKI, "/public/x", None, "bypass", id="bypass-untouched"),
    pytest.param(WIKI, "/admin/", who("pwd", NOW - 299), "allow", id="recent-enough"),
    pytest.param(WIKI, "/admin/", who("pwd", NOW - 301), "login", id="too-old"),
    pytest.param(WIKI, "/admin/", who("pwd", None), "login", id="no-auth-time"),
    pytest.param(WIKI, "/admin/", None, "login", id="anonymous"),
    pytest.param(WIKI, "/vault/a", who("hwk", NOW - 86_400), "allow", id="acr-one-of"),
    pytest.param(WIKI, "/vault/a", who("pwd", NOW), "login", id="acr-weaker"),
    pytest.param(WIKI, "/keys/a", who("hwk", NOW - 61), "login", id="both-age-fails"),
    pytest.param(WIKI, "/keys/a", who("mfa", NOW), "login", id="both-acr-fails"),
    pytest.param(WIKI, "/keys/a", who("hwk", NOW - 59), "allow", id="both-met"),
    pytest.param(WIKI, "/public/..;/admin/", who("pwd", NOW - 301), "login",
                 id="ambiguous-path-strictest-reading"),
    pytest.param(WIKI, "/admin/", who("pwd", NOW - 9999, provider=EMERGENCY_PROVIDER), "allow",
                 id="emergency-session-passes"),
    # The app's requirement and the rule's together: an acr both accept, the shorter max_age.
    pytest.param(STRICT, "/root/", who("hwk", NOW - 119), "allow", id="combined-met"),
    pytest.param(STRICT, "/root/", who("mfa", NOW - 10), "login", id="combined-app-acr-only"),
    pytest.param(STRICT, "/root/", who("pwd", NOW - 10), "login", id="combined-rule-acr-only"),
    pytest.param(STRICT, "/root/", who("hwk", NOW - 121), "login", id="combined-rule-age"),
    pytest.param(STRICT, "/page", who("mfa", NOW - 3000), "allow", id="app-requirement-only"),
])
def test_rule_step_up(app, path: str, identity: Identity | None, outcome: str) -> None:
    assert STEP_UP.decide(app, "GET", path, "", identity, NOW).outcome == outcome


def test_the_match_names_the_requirement_the_login_view_asks_for() -> None:
    assert STEP_UP.match(WIKI, "GET", "/page", "").assurance is None
    assert STEP_UP.match(WIKI, "GET", "/public/x", "").assurance is None
    admin = STEP_UP.match(WIKI, "GET", "/admin/users", "").assurance
    assert admin is not None and admin.auth_params() == {"max_age": "300"}
    keys = STEP_UP.match(WIKI, "GET", "/keys/", "").assurance
    assert keys is not None and keys.auth_params() == {"acr_values": "hwk", "max_age": "60"}
    root = STEP_UP.match(STRICT, "GET", "/root/", "").assurance
    assert root is not None and root.auth_params() == {"acr_values": "hwk", "max_age": "120"}
    # An ambiguous path asks for every reading's requirement at once.
    odd = STEP_UP.match(WIKI, "GET", "/vault/..;/admin/", "").assurance
    assert odd is not None and odd.as_dict() == {"acr": ["hwk", "mfa"], "max_age": 300.0}


def test_a_step_up_decision_names_its_requirement() -> None:
    decision = STEP_UP.decide(WIKI, "GET", "/keys/a", "", who("mfa", NOW), NOW)
    assert decision.requires is not None and decision.requires.max_age == 60
    assert "rule 3's requirement (acr one of hwk; max_age 60s)" in decision.reason
    assert "acr mfa is not one of hwk" in decision.reason
    explained = STEP_UP.explain(WIKI, "GET", "/keys/a", "", who("mfa", NOW), NOW)
    assert explained.checks[-1].reason == ("matched: policy authenticated; step-up: acr one "
                                           "of hwk; max_age 60s")


def test_a_rule_with_a_requirement_keys_the_decision_cache_by_url() -> None:
    """An allow at another path must never answer for the step-up path in nginx's cache."""
    assert WIKI.cache_scope == "url"


def test_requirement_round_trips_through_the_pending_sign_in() -> None:
    keys = STEP_UP.match(WIKI, "GET", "/keys/", "").assurance
    assert keys is not None and Assurance.from_dict(keys.as_dict()) == keys
    assert Assurance.from_dict(None) is None and Assurance.from_dict({"acr": 3}) is None


@pytest.mark.parametrize("rule, error", [
    pytest.param({"policy": "authenticated", "max_age": 2}, ("apps[0].rules[0].max_age", "5s"),
                 id="max-age-too-short"),
    pytest.param({"policy": "authenticated", "max_age": "1h"},
                 ("apps[0].rules[0].max_age", "duration"), id="max-age-not-normalised"),
    pytest.param({"policy": "authenticated", "acr": []}, ("apps[0].rules[0].acr", "empty"),
                 id="acr-empty"),
    pytest.param({"policy": "bypass", "max_age": 60},
                 ("apps[0].rules[0].max_age", "only applies to policy authenticated"),
                 id="bypass-with-max-age"),
    pytest.param({"policy": "deny", "acr": ["mfa"]},
                 ("apps[0].rules[0].acr", "only applies to policy authenticated"),
                 id="deny-with-acr"),
    pytest.param({"policy": "authenticated", "acr": ["pwd"]},
                 ("apps[0].rules[0].acr", "shares no value"), id="acr-disjoint-from-app"),
])
def test_bad_rule_requirements_are_config_errors(rule: dict, error: tuple[str, str]) -> None:
    from ssomw.core.policy import PolicyError
    with pytest.raises(PolicyError) as caught:
        Policy.build([{"id": "a", "hosts": ["a.example.com"],
                       "auth_params": {"acr_values": "mfa"}, "rules": [rule]}])
    path, words = error
    assert any(p == path and words in m for p, m in caught.value.errors), caught.value.errors


@pytest.mark.parametrize("identity, again", [
    pytest.param(who("pwd", NOW - 10), False, id="meets-it"),
    pytest.param(who("pwd", NOW - 400), True, id="known-too-old"),
    pytest.param(who("pwd", None), False, id="age-unknown-max-age-alone-asks"),
    pytest.param(who("weak", None), True, id="acr-too-weak"),
])
def test_when_the_provider_must_ask_again(identity: Identity, again: bool) -> None:
    needs = Assurance(frozenset({"pwd", "mfa"}), 300)
    assert needs.asks_again(identity, NOW) is again
