"""Routing (contract §4.5): the tables in tests/data/routing_cases.yaml, plus the invariants."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssomw.core.routing import Route, Routing, RoutingError, email_domain

DATA = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "routing_cases.yaml")
                      .read_text(encoding="utf-8"))
PROVIDERS: list[str] = DATA["providers"]
CONFIGS: dict[str, dict[str, Any]] = DATA["configs"]
COMPILED = {name: Routing.build(config, PROVIDERS) for name, config in CONFIGS.items()}
ALLOWED_DOMAINS = Routing.build(
    {"allowed_email_domains": ["example.com", "*.example.com", "bücher.example"]}, PROVIDERS)


def sign_in(routing: Routing, case: dict[str, Any]) -> Route:
    return routing.route(
        host=case.get("host", "app.example.com"), app_id=case.get("app"),
        client_ip=case.get("ip", "192.0.2.10"), email=case.get("email"),
        allowed=case.get("allowed", PROVIDERS), requested=case.get("requested"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in DATA["route"]])
def test_route(case: dict[str, Any]) -> None:
    route = sign_in(COMPILED[case["config"]], case)
    expect = case["expect"]
    if "provider" in expect:
        assert (route.provider, route.page, route.choices) == (expect["provider"], None, ())
    else:
        assert (route.provider, route.page, route.choices) == (
            None, expect["page"], tuple(expect["choices"]))
        assert route.rule_index is None
    if "rule" in case:
        assert route.rule_index == case["rule"]
    assert route.reason
    allowed = case.get("allowed", PROVIDERS)
    assert route.provider is None or route.provider in allowed


def test_route_table_is_large_enough() -> None:
    ids = [case["id"] for case in DATA["route"]]
    assert len(ids) >= 40 and len(ids) == len(set(ids))


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in DATA["build_errors"]])
def test_build_errors(case: dict[str, Any]) -> None:
    with pytest.raises(RoutingError) as caught:
        Routing.build(case["config"], case.get("providers", PROVIDERS), case.get("apps"))
    errors = caught.value.errors
    assert sorted(path for path, _ in errors) == sorted(path for path, _ in case["errors"])
    for path, part in case["errors"]:
        messages = [message for where, message in errors if where == path]
        assert any(part in message for message in messages), (path, messages)
    assert str(caught.value).startswith(errors[0][0])


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in DATA["email_allowed"]])
def test_email_allowed(case: dict[str, Any]) -> None:
    assert ALLOWED_DOMAINS.email_allowed(case["email"]) is case["allowed"]


def test_email_allowed_without_a_list_allows_everything() -> None:
    routing = Routing.build({"allowed_email_domains": []}, PROVIDERS)
    assert routing.email_allowed("anyone@anywhere.example")
    assert routing.email_allowed(None)  # nothing to check: the caller has no list to enforce


def test_length_cases_sit_on_the_limit() -> None:
    lengths = {c["id"]: len(c["email"] or "") for c in DATA["email_allowed"]}
    assert (lengths["longest-allowed-254"], lengths["too-long-255"]) == (254, 255)


@pytest.mark.parametrize(("email", "domain"), [
    pytest.param("Alice@Example.COM", "example.com", id="lower-cased"),
    pytest.param("a@b@Bücher.Example", "xn--bcher-kva.example", id="last-at-idna"),
    pytest.param("alice@localhost", "localhost", id="single-label"),
    pytest.param("alice", None, id="no-at"),
    pytest.param(42, None, id="not-a-string"),
])
def test_email_domain(email: Any, domain: str | None) -> None:
    assert email_domain(email) == domain


def test_string_and_list_values_compile_alike() -> None:
    one = Routing.build({"rules": [{"match": {"email_domain": "Example.COM"}, "provider": "corp"}]},
                        PROVIDERS)
    many = Routing.build({"rules": [{"match": {"email_domain": ["example.com"]},
                                     "provider": "corp"}]}, PROVIDERS)
    assert one.rules == many.rules
    assert one.rules[0].values == ("example.com",) and one.default == "choose"


def test_compiled_patterns_are_canonical() -> None:
    rules = Routing.build(CONFIGS["hrd"], PROVIDERS).rules
    assert rules[1].values == ("xn--bcher-kva.example",)
    assert COMPILED["networks"].rules[0].values == ("10.0.0.0/8", "fd00::/8", "192.0.2.77/32")


def test_empty_section_routes_by_allowed_providers_only() -> None:
    for section in (None, {}):
        routing = Routing.build(section, PROVIDERS)
        assert (routing.rules, routing.default, routing.allowed_email_domains) == (
            (), "choose", ())


SAMPLE_EMAILS = ("alice@example.com", "bob@eu.example.com", "kim@bücher.example",
                 "pat@partner.org", "carol@gmail.com", "x@example.com.evil.org")
SAMPLE_REQUESTS = list(itertools.product(
    ("app.example.com", "a.partner.example.com"), (None, "jsm"), ("192.0.2.10", "10.1.2.3"),
    (PROVIDERS, ["corp", "customers"], ["customers"], ["partner-idp", "customers"])))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_email_never_changes_a_decided_route(name: str) -> None:
    """Without the address the answer is the e-mail page or what every address would get:
    a ``login_hint`` can only answer the question early, never change which rule wins."""
    routing = COMPILED[name]
    for host, app_id, ip, allowed in SAMPLE_REQUESTS:
        kwargs = {"host": host, "app_id": app_id, "client_ip": ip, "allowed": allowed}
        blind = routing.route(email=None, **kwargs)
        if blind.page == "email":
            continue
        for email in SAMPLE_EMAILS:
            assert routing.route(email=email, **kwargs).provider == blind.provider, (
                kwargs, email)


def test_explain_lists_rules_in_order_with_reasons() -> None:
    explanation = COMPILED["standard"].explain(
        host="app.example.com", app_id="jsm", client_ip="192.0.2.10", email="carol@gmail.com",
        allowed=["corp", "customers"])
    assert explanation.route.provider == "customers"
    assert [(c.index, c.matched) for c in explanation.checks] == [(0, False), (1, False),
                                                                  (2, True)]
    assert "not allowed" in explanation.checks[0].reason
    assert "'gmail.com' matches none of example.com, *.example.com" in explanation.checks[1].reason
    assert explanation.route == COMPILED["standard"].route(
        host="app.example.com", app_id="jsm", client_ip="192.0.2.10", email="carol@gmail.com",
        allowed=["corp", "customers"])


def test_explain_marks_the_rule_that_needs_the_email() -> None:
    explanation = COMPILED["hrd"].explain(host="app.example.com", app_id=None,
                                         client_ip="192.0.2.10", email=None, allowed=PROVIDERS)
    assert explanation.route.page == "email"
    assert [(c.index, c.matched) for c in explanation.checks] == [(0, False)]
    assert "e-mail address" in explanation.checks[0].reason


def test_ignored_request_is_in_the_reason() -> None:
    route = COMPILED["standard"].route(host="app.example.com", app_id=None, client_ip="",
                                       email=None, allowed=["corp"], requested="customers")
    assert route.provider == "corp" and "'customers' ignored" in route.reason
