"""Logout token validation, driven by tests/data/logout_token_cases.yaml (Back-Channel §2.6)."""

from __future__ import annotations

from typing import Any

import pytest

from ssomw.oidc.errors import TokenError
from ssomw.oidc.logout_token import validate_logout_token

from .conftest import (
    NOW,
    FakeClock,
    KeyRing,
    load_cases,
    logout_token_defaults,
    make_cache,
    make_policy,
    mint,
)


class JtiStore:
    """The shared store's add-if-absent, as the gateway's caller implements seen_jti."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def __call__(self, jti: str, expires_at: float) -> bool:
        if jti in self.seen:
            return True
        self.seen[jti] = expires_at
        return False


def outcome(token: Any, case: dict[str, Any], cache: Any, store: JtiStore) -> str:
    try:
        claims = validate_logout_token(token, make_policy(case.get("policy")), cache, store,
                                       now=NOW)
    except TokenError as error:
        return error.code
    assert claims.get("sub") or claims.get("sid")
    return "ok"


@pytest.mark.parametrize("case", load_cases("logout_token_cases.yaml"))
def test_logout_token_case(keyring: KeyRing, case: dict[str, Any]) -> None:
    cache, fetch = make_cache(keyring, case.get("jwks", [["k1", "ec"]]), FakeClock())
    store = JtiStore()
    token = mint(keyring, case, logout_token_defaults)
    if case.get("submit_twice"):
        assert outcome(token, case, cache, store) == "ok"
    assert outcome(token, case, cache, store) == case["expect"]
    if "fetches" in case:
        assert len(fetch.calls) == case["fetches"]


@pytest.mark.parametrize(
    ("times", "drop", "remember_until"),
    [
        pytest.param({"iat": 0, "exp": 120}, [], NOW + 120 + 60 + 1, id="exp-plus-leeway"),
        pytest.param({"iat": 0}, ["exp"], NOW + 600 + 1, id="no-exp-max-iat-age"),
        pytest.param({"iat": -500, "exp": 3600}, [], NOW - 500 + 600 + 1, id="iat-age-first"),
    ],
)
def test_jti_remembered_while_token_is_acceptable(
    keyring: KeyRing, times: dict[str, float], drop: list[str], remember_until: float
) -> None:
    cache, _ = make_cache(keyring, [["k1"]], FakeClock())
    store = JtiStore()
    token = mint(keyring, {"times": times, "drop": drop}, logout_token_defaults)
    validate_logout_token(token, make_policy(None), cache, store, now=NOW)
    assert store.seen == {"bWJq-0001": remember_until}


def test_invalid_token_does_not_use_up_its_jti(keyring: KeyRing) -> None:
    cache, _ = make_cache(keyring, [["k1"]], FakeClock())
    store = JtiStore()
    bad = mint(keyring, {"claims": {"nonce": "x"}}, logout_token_defaults)
    with pytest.raises(TokenError):
        validate_logout_token(bad, make_policy(None), cache, store, now=NOW)
    forged = mint(keyring, {"sign_with": "attacker"}, logout_token_defaults)
    with pytest.raises(TokenError):
        validate_logout_token(forged, make_policy(None), cache, store, now=NOW)
    assert store.seen == {}
    good = mint(keyring, {}, logout_token_defaults)
    validate_logout_token(good, make_policy(None), cache, store, now=NOW)
    assert list(store.seen) == ["bWJq-0001"]


def test_returns_claims_for_the_session_lookup(keyring: KeyRing) -> None:
    cache, _ = make_cache(keyring, [["k1"]], FakeClock())
    token = mint(keyring, {}, logout_token_defaults)
    claims = validate_logout_token(token, make_policy(None), cache, JtiStore(), now=NOW)
    assert (claims["iss"], claims["sub"], claims["sid"]) == (
        "https://idp.example.com", "248289761001", "08a5019c-17e1-4977-8f42-65a12843ea02")
