"""Bearer access token validation, driven by tests/data/access_token_cases.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from ssomw.oidc.access_tokens import (
    Expectations,
    check_introspection,
    granted_scopes,
    is_client_token,
    validate_access_token,
)
from ssomw.oidc.errors import TokenError

from .conftest import ISSUER, NOW, FakeClock, KeyRing, load_cases, make_cache, make_policy, mint

pytestmark = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
EXPECT = Expectations(audiences=frozenset({"jira-api"}), scopes=frozenset({"jira"}))


def access_token_defaults() -> tuple[dict[str, Any], dict[str, Any]]:
    header = {"alg": "RS256", "kid": "k1", "typ": "at+jwt"}
    claims = {"iss": ISSUER, "sub": "248289761001", "aud": "jira-api", "client_id": "ci-bot",
              "exp": NOW + 300, "iat": NOW, "scope": "jira read"}
    return header, claims


@pytest.mark.parametrize("case", load_cases("access_token_cases.yaml"))
def test_access_token_case(keyring: KeyRing, case: dict[str, Any]) -> None:
    cache, _ = make_cache(keyring, [["k1", "ec", "ed"]], FakeClock())
    token = mint(keyring, case, access_token_defaults)
    try:
        claims = validate_access_token(token, make_policy(case.get("policy")), cache, EXPECT,
                                       now=NOW)
        outcome = "ok"
        assert claims["iss"] == ISSUER
    except TokenError as error:
        outcome = error.code
    assert outcome == case["expect"]


@pytest.mark.parametrize("answer, expected", [
    pytest.param({"active": True, "scope": "jira", "exp": NOW + 10}, "ok", id="active"),
    pytest.param({"active": False}, "inactive", id="inactive"),
    pytest.param({"active": "true", "scope": "jira"}, "inactive", id="active-not-boolean"),
    pytest.param({"active": True, "scope": "read"}, "insufficient_scope", id="scope"),
    pytest.param({"active": True, "scope": "jira", "aud": "other"}, "aud_mismatch", id="aud"),
    pytest.param({"active": True, "scope": "jira", "iss": "https://x"}, "iss_mismatch",
                 id="iss"),
    pytest.param({"active": True, "scope": "jira", "exp": NOW - 600}, "expired", id="expired"),
])
def test_introspection_answer(answer: dict[str, Any], expected: str) -> None:
    try:
        check_introspection(answer, make_policy(None), EXPECT, NOW)
        outcome = "ok"
    except TokenError as error:
        outcome = error.code
    assert outcome == expected


@pytest.mark.parametrize("claims, client", [
    pytest.param({"sub": "ci-bot", "client_id": "ci-bot"}, True, id="sub-is-client"),
    pytest.param({"client_id": "ci-bot"}, True, id="no-sub"),
    pytest.param({"sub": "u1", "client_id": "ci-bot"}, False, id="a-user"),
])
def test_client_credentials_tokens(claims: dict[str, Any], client: bool) -> None:
    assert is_client_token(claims) is client


def test_scope_claims() -> None:
    assert granted_scopes({"scope": "a b"}) == {"a", "b"}
    assert granted_scopes({"scp": ["a", 1]}) == {"a"}
    assert granted_scopes({}) == frozenset()
