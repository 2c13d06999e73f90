"""Logout token validation, driven by tests/data/logout_token_cases.yaml (Back-Channel §2.6)."""

from __future__ import annotations

from typing import Any

import pytest

from ssomw.oidc.errors import TokenError
from ssomw.oidc.logout_token import validate_logout_token
from ssomw.oidc.tokens import validate_id_token

from .conftest import (
    NONCE,
    NOW,
    FakeClock,
    KeyRing,
    id_token_defaults,
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


def test_a_forged_logout_token_cannot_block_a_key_rotation(keyring: KeyRing) -> None:
    """Issue 17 item 9, end to end through both validators: anyone POSTs a logout token with
    the provider's iss and a random kid; 0.2 s later the provider, having rotated to k2,
    returns an ID token signed with it — and the sign-in succeeds."""
    clock = FakeClock()
    cache, fetch = make_cache(keyring, [["k1"], ["k1"], ["k1", "k2"]], clock)
    forged = mint(keyring, {"header": {"kid": "forged-7"}, "sign_with": "attacker"},
                  logout_token_defaults)
    assert outcome(forged, {}, cache, JtiStore()) == "unknown_kid"
    assert len(fetch.calls) == 2
    clock.now += 0.2
    token = mint(keyring, {"header": {"kid": "k2"}, "sign_with": "k2"}, id_token_defaults)
    claims = validate_id_token(token, make_policy(None), cache, NONCE, None, now=NOW)
    assert claims["sub"] and len(fetch.calls) == 3


@pytest.mark.parametrize("claims", [
    pytest.param({"iss": "https://evil.example"}, id="other-issuer"),
    pytest.param({"aud": "someone-else"}, id="other-audience"),
    pytest.param({"exp": NOW - 3600}, id="expired"),
])
def test_no_key_refresh_for_a_token_that_fails_cheaper_checks(keyring: KeyRing,
                                                              claims: dict) -> None:
    cache, fetch = make_cache(keyring, [["k1"]], FakeClock())
    forged = mint(keyring, {"header": {"kid": "forged-8"}, "sign_with": "attacker",
                            "claims": claims}, logout_token_defaults)
    assert outcome(forged, {}, cache, JtiStore()) == "unknown_kid"
    assert len(fetch.calls) == 1  # the first use only: nothing spent on it
