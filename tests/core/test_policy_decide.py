"""Decisions: rule order, methods, networks, groups, passthrough, providers, sso off, paths."""

from __future__ import annotations

import pytest

from ssomw.core.assurance import Identity
from ssomw.core.policy import Policy

POLICY = Policy.build([
    {
        "id": "jira", "hosts": ["jira.example.com"], "allowed_groups": ["jira-users"],
        "rules": [
            {"paths": ["^/status$"], "policy": "bypass"},                              # 0
            {"paths": ["^/rest/api/"], "methods": ["GET", "HEAD"], "policy": "bypass"},  # 1
            {"paths": ["^/rest/api/"], "policy": "authenticated"},                     # 2
            {"paths": ["^/secure/admin"], "groups": ["admins"],
             "policy": "authenticated"},                                                # 3
            {"paths": ["^/internal/"], "networks": ["10.0.0.0/8", "fd00::/8"],
             "policy": "bypass"},                                                       # 4
            {"paths": ["^/internal/"], "policy": "deny"},                              # 5
            {"paths": ["^/public/"], "policy": "bypass"},                              # 6
            {"paths": ["^/private/"], "policy": "deny"},                               # 7
        ],
    },
    {"id": "agents", "hosts": ["desk.example.com"], "allowed_groups": ["agents"],
     "denied_action": "passthrough"},
    {"id": "corp-only", "hosts": ["hr.example.com"], "providers": ["corp"]},
    {"id": "legacy", "hosts": ["legacy.example.com"], "sso": False,
     "rules": [{"paths": ["^/"], "policy": "deny"}]},
    {"id": "open", "hosts": ["open.example.com"]},
])
APPS = {app.id: app for app in POLICY.apps}

ALICE = Identity("alice", "corp", frozenset({"jira-users"}))
ADMIN = Identity("root", "corp", frozenset({"jira-users", "admins"}))
LONE_ADMIN = Identity("ops", "corp", frozenset({"admins"}))
AGENT = Identity("bob", "corp", frozenset({"agents"}))
PARTNER = Identity("eve", "partner", frozenset({"jira-users"}))
NOBODY = Identity("nobody", "corp", frozenset())

OUTSIDE = "203.0.113.9"


@pytest.mark.parametrize(("app", "method", "path", "ip", "who", "outcome", "rule"), [
    # rule order and defaults
    pytest.param("jira", "GET", "/status", OUTSIDE, None, "bypass", 0, id="bypass-anonymous"),
    pytest.param("jira", "GET", "/status/x", OUTSIDE, None, "login", None,
                 id="anchored-regex-no-match"),
    pytest.param("jira", "GET", "/browse/X-1", OUTSIDE, None, "login", None,
                 id="default-needs-login"),
    pytest.param("jira", "GET", "/browse/X-1", OUTSIDE, ALICE, "allow", None,
                 id="default-allows-member"),
    pytest.param("jira", "GET", "/browse/X-1", OUTSIDE, NOBODY, "forbidden", None,
                 id="default-app-groups"),
    # methods
    pytest.param("jira", "GET", "/rest/api/2/issue", OUTSIDE, None, "bypass", 1,
                 id="method-listed"),
    pytest.param("jira", "head", "/rest/api/2/issue", OUTSIDE, None, "bypass", 1,
                 id="method-case"),
    pytest.param("jira", "POST", "/rest/api/2/issue", OUTSIDE, None, "login", 2,
                 id="method-not-listed-falls-through"),
    pytest.param("jira", "POST", "/rest/api/2/issue", OUTSIDE, ALICE, "allow", 2,
                 id="method-next-rule-allows"),
    # rule groups and app groups: both must pass
    pytest.param("jira", "GET", "/secure/admin/users", OUTSIDE, ADMIN, "allow", 3,
                 id="rule-group-member"),
    pytest.param("jira", "GET", "/secure/admin/users", OUTSIDE, ALICE, "forbidden", 3,
                 id="rule-group-missing"),
    pytest.param("jira", "GET", "/secure/admin/users", OUTSIDE, LONE_ADMIN, "forbidden", 3,
                 id="app-group-still-required"),
    pytest.param("jira", "GET", "/secure/admin/users", OUTSIDE, None, "login", 3,
                 id="rule-groups-anonymous-login"),
    # networks
    pytest.param("jira", "GET", "/internal/metrics", "10.1.2.3", None, "bypass", 4,
                 id="network-inside"),
    pytest.param("jira", "GET", "/internal/metrics", "fd00::7", None, "bypass", 4,
                 id="network-inside-v6"),
    pytest.param("jira", "GET", "/internal/metrics", "::ffff:10.1.2.3", None, "bypass", 4,
                 id="network-v4-mapped"),
    pytest.param("jira", "GET", "/internal/metrics", OUTSIDE, ADMIN, "forbidden", 5,
                 id="network-outside-deny"),
    pytest.param("jira", "GET", "/internal/metrics", "garbage", None, "forbidden", 5,
                 id="network-garbage-address"),
    pytest.param("jira", "GET", "/internal/metrics", "", None, "forbidden", 5,
                 id="network-empty-address"),
    # deny beats identity
    pytest.param("jira", "GET", "/private/x", OUTSIDE, ADMIN, "forbidden", 7, id="deny-admin"),
    # passthrough
    pytest.param("agents", "GET", "/", OUTSIDE, AGENT, "allow", None, id="passthrough-agent"),
    pytest.param("agents", "GET", "/", OUTSIDE, ALICE, "passthrough", None,
                 id="passthrough-non-agent"),
    pytest.param("agents", "GET", "/", OUTSIDE, None, "login", None,
                 id="passthrough-anonymous-login"),
    # provider restriction
    pytest.param("corp-only", "GET", "/", OUTSIDE, ALICE, "allow", None, id="provider-allowed"),
    pytest.param("corp-only", "GET", "/", OUTSIDE, PARTNER, "login", None,
                 id="provider-other-login-again"),
    pytest.param("jira", "GET", "/browse/X-1", OUTSIDE, PARTNER, "allow", None,
                 id="provider-unrestricted"),
    # sso off
    pytest.param("legacy", "GET", "/anything", OUTSIDE, None, "bypass", None, id="sso-false"),
    pytest.param("legacy", "POST", "/", OUTSIDE, ADMIN, "bypass", None,
                 id="sso-false-ignores-rules"),
    # any signed-in user
    pytest.param("open", "GET", "/", OUTSIDE, NOBODY, "allow", None, id="no-groups-anyone"),
])
def test_decide(app: str, method: str, path: str, ip: str, who: Identity | None,
                outcome: str, rule: int | None) -> None:
    decision = POLICY.decide(APPS[app], method, path, ip, who)
    assert (decision.outcome, decision.rule_index, decision.app_id) == (outcome, rule, app)
    assert decision.reason


@pytest.mark.parametrize(("path", "who", "outcome"), [
    # Bypass reached only through a path some upstream reads differently: never a bypass.
    pytest.param("/public/..;/secure/admin", ALICE, "forbidden", id="servlet-dotdot-semicolon"),
    pytest.param("/public/%2e%2e/private/x", None, "forbidden", id="encoded-dots"),
    pytest.param("/public/../private/x", None, "forbidden", id="raw-dots"),
    pytest.param("/public//../private/x", None, "forbidden", id="double-slash-dots"),
    pytest.param("/%70rivate/x", None, "forbidden", id="encoded-letter"),
    pytest.param("/private;x=1/y", None, "forbidden", id="path-parameter"),
    pytest.param("/status;jsessionid=1", None, "login", id="param-on-bypass-not-trusted"),
    pytest.param("/rest/api/../../secure/admin", ALICE, "forbidden", id="api-dots-to-admin"),
    # Harmless encodings keep working.
    pytest.param("/public/Caf%C3%A9", None, "bypass", id="encoded-under-bypass"),
    pytest.param("/public/a?x=../../private", None, "bypass", id="query-ignored"),
    pytest.param("/status?verbose=1", None, "bypass", id="query-on-anchored"),
])
def test_ambiguous_paths_take_the_strictest_reading(path: str, who: Identity | None,
                                                    outcome: str) -> None:
    assert POLICY.decide(APPS["jira"], "GET", path, OUTSIDE, who).outcome == outcome


@pytest.mark.parametrize(("app", "scope"), [
    pytest.param("jira", "none", id="network-rule-not-cacheable"),
    pytest.param("agents", "app", id="no-rules"),
    pytest.param("legacy", "app", id="sso-false"),
])
def test_cache_scope(app: str, scope: str) -> None:
    assert APPS[app].cache_scope == scope
    assert POLICY.decide(APPS[app], "GET", "/", OUTSIDE, None).cache_scope == scope


def test_cache_scope_url_for_path_and_method_rules() -> None:
    policy = Policy.build([
        {"id": "a", "hosts": ["a.example.com"], "rules": [{"paths": ["^/x"], "policy": "deny"}]},
        {"id": "b", "hosts": ["b.example.com"],
         "rules": [{"methods": ["POST"], "policy": "deny"}]},
        {"id": "c", "hosts": ["c.example.com"], "rules": [{"policy": "bypass"}]},
    ])
    assert [app.cache_scope for app in policy.apps] == ["url", "url", "app"]


def test_decisions_are_prebuilt() -> None:
    first = POLICY.decide(APPS["jira"], "GET", "/browse/X-1", OUTSIDE, ALICE)
    second = POLICY.decide(APPS["jira"], "GET", "/browse/Y-2", OUTSIDE, ADMIN)
    assert first is second


def test_explain_lists_rules_until_the_match() -> None:
    explanation = POLICY.explain(APPS["jira"], "POST", "/rest/api/2/issue", OUTSIDE, ALICE)
    assert [(c.index, c.matched) for c in explanation.checks] == [(0, False), (1, False),
                                                                  (2, True)]
    assert "^/status$" in explanation.checks[0].reason
    assert "method POST is not one of GET, HEAD" == explanation.checks[1].reason
    assert explanation.decision.outcome == "allow"


def test_explain_network_mismatch_and_default() -> None:
    explanation = POLICY.explain(APPS["jira"], "GET", "/internal/x", OUTSIDE, None)
    assert explanation.checks[4].reason == (
        f"client address {OUTSIDE} is not in 10.0.0.0/8, fd00::/8")
    assert explanation.checks[-1].matched and explanation.decision.outcome == "forbidden"
    default = POLICY.explain(APPS["jira"], "GET", "/browse/X-1", OUTSIDE, None)
    assert not any(c.matched for c in default.checks) and len(default.checks) == 8
    assert "no rule of app 'jira' matched" in default.decision.reason


def test_explain_shows_the_reading_that_decided() -> None:
    explanation = POLICY.explain(APPS["jira"], "GET", "/public/..;/secure/admin", OUTSIDE, ALICE)
    assert explanation.path == "/secure/admin"
    assert explanation.decision.outcome == "forbidden" and explanation.checks[-1].index == 3


@pytest.mark.parametrize("path", ["/", "/status", "/rest/api/x", "/secure/admin", "/internal/a",
                                  "/public/..;/private/", "/private/x", "/%2e%2e/"])
@pytest.mark.parametrize("who", [None, ALICE, ADMIN, NOBODY], ids=lambda w: w and w.user)
@pytest.mark.parametrize("ip", [OUTSIDE, "10.0.0.1"])
def test_explain_agrees_with_decide(path: str, who: Identity | None, ip: str) -> None:
    decision = POLICY.decide(APPS["jira"], "GET", path, ip, who)
    explanation = POLICY.explain(APPS["jira"], "GET", path, ip, who)
    matched = [c.index for c in explanation.checks if c.matched]
    assert explanation.decision == decision
    assert matched == ([] if decision.rule_index is None else [decision.rule_index])
