"""Building the policy: compiled shapes, every error collected with its path, scale."""

from __future__ import annotations

import ipaddress
import re

import pytest

from ssomw.core.assurance import Identity
from ssomw.core.policy import Policy, PolicyError


def test_compiled_app_keeps_everything() -> None:
    policy = Policy.build([{
        "id": "jira", "name": "Jira", "hosts": ["Jira.Example.com", "*.jira.example.com"],
        "path_prefix": "/jira/", "providers": ["corp"], "allowed_groups": ["jira-users"],
        "denied_action": "passthrough", "local_login_paths": ["/login.jsp"],
        "headers": {"X-Jira-Team": "team"},
        "rules": [{"paths": ["^/rest/"], "methods": ["get"], "networks": ["10.0.0.0/8"],
                   "policy": "authenticated", "groups": ["admins"]}],
    }])
    app = policy.apps[0]
    assert (app.id, app.name, app.hosts, app.path_prefix, app.sso) == (
        "jira", "Jira", ("jira.example.com", "*.jira.example.com"), "/jira", True)
    assert (app.providers, app.allowed_groups, app.denied_action) == (
        ("corp",), frozenset({"jira-users"}), "passthrough")
    assert (app.local_login_paths, dict(app.headers)) == (("/login.jsp",), {"X-Jira-Team": "team"})
    rule = app.rules[0]
    assert rule.index == 0 and rule.paths == (re.compile("^/rest/"),)
    assert rule.methods == frozenset({"GET"})
    assert rule.networks == (ipaddress.ip_network("10.0.0.0/8"),)
    assert (rule.policy, rule.groups) == ("authenticated", frozenset({"admins"}))


def test_defaults() -> None:
    app = Policy.build([{"id": "a", "hosts": ["a.example.com"]}]).apps[0]
    assert (app.path_prefix, app.sso, app.providers, app.allowed_groups, app.denied_action,
            app.rules, app.local_login_paths, dict(app.headers)) == (
        "/", True, None, frozenset(), "forbidden", (), (), {})


def errors_of(apps: object) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as caught:
        Policy.build(apps)  # type: ignore[arg-type]
    return caught.value.errors


@pytest.mark.parametrize(("app", "path", "message"), [
    pytest.param({"hosts": ["a.example.com"]}, "apps[0].id", "is required", id="missing-id"),
    pytest.param({"id": "a"}, "apps[0].hosts", "non-empty list", id="missing-hosts"),
    pytest.param({"id": "a", "hosts": []}, "apps[0].hosts", "non-empty list", id="empty-hosts"),
    pytest.param({"id": "a", "hosts": ["ok.example.com", "a*.example.com"]}, "apps[0].hosts[1]",
                 "wildcard is allowed only as a leading", id="inner-wildcard"),
    pytest.param({"id": "a", "hosts": ["*"]}, "apps[0].hosts[0]", "wildcard", id="bare-star"),
    pytest.param({"id": "a", "hosts": ["a.example.com:8443"]}, "apps[0].hosts[0]",
                 "must not include a port", id="host-port"),
    pytest.param({"id": "a", "hosts": ["bad host"]}, "apps[0].hosts[0]",
                 "not a valid host name", id="bad-host"),
    pytest.param({"id": "a", "hosts": ["a.example.com."]}, "apps[0].hosts[0]",
                 "not a valid host name", id="trailing-dot-host"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "path_prefix": "wiki"},
                 "apps[0].path_prefix", "starting with /", id="relative-prefix"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "path_prefix": "/a/../b"},
                 "apps[0].path_prefix", "plain path", id="dotted-prefix"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "path_prefix": "/a%2Fb"},
                 "apps[0].path_prefix", "plain path", id="encoded-prefix"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "sso": "yes"}, "apps[0].sso",
                 "true or false", id="sso-not-bool"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "providers": []}, "apps[0].providers",
                 "leave it out to allow all", id="empty-providers"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "denied_action": "redirect"},
                 "apps[0].denied_action", "forbidden or passthrough", id="bad-denied-action"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "rules": {"policy": "deny"}},
                 "apps[0].rules", "list of rules", id="rules-not-list"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "rules": [{"paths": ["^/"]}]},
                 "apps[0].rules[0].policy", "bypass, authenticated, deny", id="missing-policy"),
    pytest.param({"id": "a", "hosts": ["a.example.com"],
                  "rules": [{"paths": ["^/ok", "^/(", "^/ok2"], "policy": "deny"}]},
                 "apps[0].rules[0].paths[1]", "invalid regular expression", id="bad-regex"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "rules": [{"paths": [],
                                                                    "policy": "deny"}]},
                 "apps[0].rules[0].paths", "leave it out to match every path", id="empty-paths"),
    pytest.param({"id": "a", "hosts": ["a.example.com"],
                  "rules": [{"methods": ["GET", "GE T"], "policy": "deny"}]},
                 "apps[0].rules[0].methods[1]", "not an HTTP method", id="bad-method"),
    pytest.param({"id": "a", "hosts": ["a.example.com"],
                  "rules": [{"networks": ["10.0.0.0/8", "10.0.0.1/8"], "policy": "bypass"}]},
                 "apps[0].rules[0].networks[1]", "did you mean '10.0.0.0/8'", id="host-bits"),
    pytest.param({"id": "a", "hosts": ["a.example.com"],
                  "rules": [{"networks": ["office"], "policy": "bypass"}]},
                 "apps[0].rules[0].networks[0]", "not an IP address", id="bad-network"),
    pytest.param({"id": "a", "hosts": ["a.example.com"],
                  "rules": [{"groups": ["admins"], "policy": "bypass"}]},
                 "apps[0].rules[0].groups", "only applies to policy authenticated",
                 id="groups-on-bypass"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "local_login_paths": ["login.jsp"]},
                 "apps[0].local_login_paths[0]", "starting with /", id="relative-login-path"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "headers": {"X-Team": 3}},
                 "apps[0].headers", "header names to attribute names", id="bad-headers"),
    pytest.param({"id": "a", "hosts": ["a.example.com"], "allowed_groups": "admins"},
                 "apps[0].allowed_groups", "list of non-empty strings", id="groups-string"),
    pytest.param("jira", "apps[0]", "must be a mapping", id="app-not-mapping"),
])
def test_single_error_with_path(app: object, path: str, message: str) -> None:
    errors = errors_of([app])
    assert [p for p, _ in errors] == [path]
    assert message in errors[0][1]


def test_every_error_is_collected() -> None:
    errors = errors_of([
        {"id": "ok", "hosts": ["ok.example.com"]},
        {"id": "jira", "hosts": ["jira.example.com", "bad host"],
         "rules": [
             {"paths": ["^/fine"], "policy": "bypass"},
             {"paths": ["(", "^/x", "[z-a]"], "networks": ["nope", "10.0.0.0/8"],
              "policy": "maybe"},
         ]},
        {"id": "ok", "hosts": ["ok.example.com"]},
        {"id": "wiki", "hosts": ["JIRA.example.com"]},  # jira failed, so no overlap
    ])
    assert [path for path, _ in errors] == [
        "apps[1].hosts[1]",
        "apps[1].rules[1].policy",
        "apps[1].rules[1].paths[0]",
        "apps[1].rules[1].paths[2]",
        "apps[1].rules[1].networks[0]",
        "apps[2].id",
        "apps[2].hosts[0]",
    ]


def test_overlapping_host_and_prefix_is_an_error() -> None:
    errors = errors_of([
        {"id": "a", "hosts": ["x.example.com"]},
        {"id": "b", "hosts": ["y.example.com", "X.Example.com"]},
    ])
    assert errors == [("apps[1].hosts[1]",
                       "x.example.com with path_prefix / is already served by app 'a'")]


def test_same_host_different_prefix_is_fine() -> None:
    policy = Policy.build([
        {"id": "a", "hosts": ["x.example.com"]},
        {"id": "b", "hosts": ["x.example.com"], "path_prefix": "/b"},
    ])
    assert [app.id for app in policy.apps] == ["a", "b"]


def test_apps_not_a_list() -> None:
    assert errors_of({"id": "a"}) == [("apps", "must be a list of apps")]


def test_error_message_lists_paths() -> None:
    with pytest.raises(PolicyError, match=r"apps\[0\]\.hosts: must be a non-empty list"):
        Policy.build([{"id": "a", "hosts": []}])


def test_fifty_apps_of_twenty_rules_build_and_match() -> None:
    """Functional scale check (not timed): compile once, then many lookups and decisions."""
    apps = [{
        "id": f"app{i}", "hosts": [f"app{i}.example.com", f"*.app{i}.example.com"],
        "allowed_groups": [f"g{i}"],
        "rules": [{"paths": [f"^/r{j}/", f"^/alt{j}$"], "methods": ["GET", "POST"],
                   "policy": ("bypass", "authenticated", "deny")[j % 3]}
                  for j in range(19)] + [{"networks": ["10.0.0.0/8"], "policy": "bypass"}],
    } for i in range(50)]
    policy = Policy.build(apps)
    who = Identity("u", "corp", frozenset({"g49"}))
    outcomes = set()
    for _ in range(20):
        for i in range(50):
            app = policy.match_app(f"x.app{i}.example.com", "/r18/x")
            assert app is not None and app.id == f"app{i}"
            outcomes.add(policy.decide(app, "GET", "/nomatch", "10.1.1.1", who).outcome)
            outcomes.add(policy.decide(app, "GET", "/nomatch", "8.8.8.8", who).outcome)
    assert outcomes == {"bypass", "allow", "forbidden"}
