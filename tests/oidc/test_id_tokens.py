"""ID token validation, driven by tests/data/id_token_cases.yaml (one row per protocol rule)."""

from __future__ import annotations

from typing import Any

import pytest

from ssomw.oidc.errors import TokenError
from ssomw.oidc.tokens import validate_id_token

from .conftest import (
    ACCESS_TOKEN,
    NONCE,
    NOW,
    FakeClock,
    KeyRing,
    b64,
    id_token_defaults,
    load_cases,
    make_cache,
    make_policy,
    mint,
)

# joserfc flags the "EdDSA" identifier as deprecated (RFC 9864); providers still send it.
pytestmark = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")


def outcome(keyring: KeyRing, case: dict[str, Any], cache: Any) -> str:
    """Validate the case's token; "ok" or the TokenError code."""
    token = mint(keyring, case, id_token_defaults)
    try:
        claims = validate_id_token(
            token,
            make_policy(case.get("policy")),
            cache,
            nonce=case.get("nonce", NONCE),
            access_token=case.get("access_token", ACCESS_TOKEN),
            now=NOW,
        )
    except TokenError as error:
        return error.code
    assert claims["sub"], "a validated token always has a subject"
    return "ok"


@pytest.mark.parametrize("case", load_cases("id_token_cases.yaml"))
def test_id_token_case(keyring: KeyRing, case: dict[str, Any]) -> None:
    cache, fetch = make_cache(keyring, case.get("jwks", [["k1", "ec", "ed"]]), FakeClock())
    for prior in case.get("prior", []):
        assert outcome(keyring, prior, cache) == prior["expect"]
    assert outcome(keyring, case, cache) == case["expect"]
    if "fetches" in case:
        assert len(fetch.calls) == case["fetches"]


def test_returns_all_claims(keyring: KeyRing) -> None:
    cache, _ = make_cache(keyring, [["k1"]], FakeClock())
    token = mint(keyring, {"claims": {"email": "ada@example.com", "groups": ["ops"]}},
                 id_token_defaults)
    claims = validate_id_token(token, make_policy(None), cache, NONCE, None, now=NOW)
    assert claims["email"] == "ada@example.com"
    assert claims["groups"] == ["ops"]
    assert claims["iss"] == "https://idp.example.com"


def test_error_message_never_echoes_token_contents(keyring: KeyRing) -> None:
    cache, _ = make_cache(keyring, [["k1"]], FakeClock())
    marker = "SECRET-MARKER-123"
    for mutation in ({"claims": {"iss": marker}}, {"claims": {"nonce": marker}},
                     {"raw": marker + ".x.y"}, {"header": {"kid": marker}}):
        token = mint(keyring, mutation, id_token_defaults)
        with pytest.raises(TokenError) as info:
            validate_id_token(token, make_policy(None), cache, NONCE, None, now=NOW)
        assert marker not in str(info.value)
        assert marker not in repr(info.value)


def test_now_defaults_to_the_wall_clock(keyring: KeyRing) -> None:
    import time

    cache, _ = make_cache(keyring, [["k1"]], FakeClock())
    fresh = {"claims": {"iat": time.time(), "exp": time.time() + 300}}
    validate_id_token(mint(keyring, fresh, id_token_defaults), make_policy(None), cache,
                      NONCE, None)
    with pytest.raises(TokenError) as info:
        validate_id_token(mint(keyring, {}, id_token_defaults), make_policy(None), cache,
                          NONCE, None)
    assert info.value.code == "expired"


def test_checks_header_before_fetching_keys(keyring: KeyRing) -> None:
    """A forged alg is refused without touching the provider's JWKS."""
    cache, fetch = make_cache(keyring, [["k1"]], FakeClock())
    token = mint(keyring, {"header": {"alg": "none"}, "forge": {"unsigned": True}},
                 id_token_defaults)
    with pytest.raises(TokenError):
        validate_id_token(token, make_policy(None), cache, NONCE, None, now=NOW)
    assert fetch.calls == []


@pytest.mark.parametrize("part", ["header", "payload"])
def test_deeply_nested_json_is_malformed_not_a_crash(keyring: KeyRing, part: str) -> None:
    cache, _ = make_cache(keyring, [["k1"]], FakeClock())
    nested = "[" * 5000 + "]" * 5000
    if part == "header":
        header = '{"alg":"RS256","kid":"k1","x":' + nested + "}"
        token = f"{b64(header.encode())}.{b64(b'{}')}.c2ln"
    else:
        token = mint(keyring, {"forge": {"payload_json": nested}}, id_token_defaults)
    with pytest.raises(TokenError) as info:
        validate_id_token(token, make_policy(None), cache, NONCE, None, now=NOW)
    assert info.value.code == "malformed"


@pytest.mark.parametrize("value", ["1e400", "10" + "0" * 400], ids=["float-overflow", "huge-int"])
def test_out_of_range_times_are_malformed(keyring: KeyRing, value: str) -> None:
    cache, _ = make_cache(keyring, [["k1"]], FakeClock())
    payload = ('{"iss":"https://idp.example.com","sub":"1","aud":"gw-client","iat":1700000000,'
               f'"nonce":"{NONCE}","exp":{value}}}')
    token = mint(keyring, {"forge": {"payload_json": payload}}, id_token_defaults)
    with pytest.raises(TokenError) as info:
        validate_id_token(token, make_policy(None), cache, NONCE, None, now=NOW)
    assert info.value.code == "malformed"
