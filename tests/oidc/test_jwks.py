"""JwksCache: lazy fetch, one rate-limited forced refresh per unknown kid, key selection."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ssomw.oidc.errors import TokenError
from ssomw.oidc.jwks import JwksCache

from .conftest import JWKS_URI, FakeClock, FakeFetch, KeyRing, make_cache

pytestmark = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")


def code_of(call: Any) -> str:
    try:
        call()
    except TokenError as error:
        return error.code
    return "ok"


def test_fetches_lazily_once(keyring: KeyRing) -> None:
    cache, fetch = make_cache(keyring, [["k1", "ec"]], FakeClock())
    assert fetch.calls == []
    assert cache.find("k1", "RS256").kid == "k1"
    assert cache.find("e1", "ES256").kid == "e1"
    assert [key.kid for key in cache.key_set()] == ["k1", "e1"]
    assert fetch.calls == [JWKS_URI]


def test_unknown_kid_refresh_is_bounded_by_a_floor_and_a_negative_cache(
        keyring: KeyRing) -> None:
    clock = FakeClock()
    cache, fetch = make_cache(keyring, [["k1"]], clock)
    assert code_of(lambda: cache.find("k9", "RS256")) == "unknown_kid"
    assert len(fetch.calls) == 2  # first use + one forced refresh
    for kid in ("k8", "k7", "k6"):  # a spray of random kids within the floor (1 s)
        assert code_of(lambda kid=kid: cache.find(kid, "RS256")) == "unknown_kid"
    assert len(fetch.calls) == 2
    clock.now += 1.5
    assert code_of(lambda: cache.find("k9", "RS256")) == "unknown_kid"
    assert len(fetch.calls) == 2  # k9 was just shown absent: no fetch for it for 60 s
    assert code_of(lambda: cache.find("k5", "RS256")) == "unknown_kid"
    assert len(fetch.calls) == 3  # another kid past the floor: one more fetch
    clock.now += 60
    assert code_of(lambda: cache.find("k9", "RS256")) == "unknown_kid"
    assert len(fetch.calls) == 4


def test_a_forged_token_cannot_hide_a_rotation_0_2_s_later(keyring: KeyRing) -> None:
    """Issue 17 item 9: the forged token's refresh used to block every refresh for 60 s."""
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    fetch = FakeFetch([keyring.public_jwks(["k1"]), keyring.public_jwks(["k1"]),
                       keyring.public_jwks(["k1", "k2"])])
    cache = JwksCache(JWKS_URI, fetch, clock=clock, sleep=sleep)
    cache.key_set()
    assert code_of(lambda: cache.find("random-kid", "RS256")) == "unknown_kid"  # forged
    clock.now += 0.2  # the provider rotates to k2 and signs the next sign-in's ID token
    assert cache.find("k2", "RS256", from_provider=True).kid == "k2"
    assert slept == [pytest.approx(0.8)] and len(fetch.calls) == 3


def test_a_guessed_kid_poisons_nothing_for_the_provider(keyring: KeyRing) -> None:
    """The negative cache holds only for tokens anyone can send: a kid an attacker guessed
    before the rotation is still looked up for a token from the provider."""
    clock = FakeClock()
    cache, fetch = make_cache(keyring, [["k1"], ["k1"], ["k1", "k2"]], clock)
    assert code_of(lambda: cache.find("k2", "RS256")) == "unknown_kid"
    clock.now += 1.0
    assert code_of(lambda: cache.find("k2", "RS256")) == "unknown_kid"  # anyone: cached
    assert cache.find("k2", "RS256", from_provider=True).kid == "k2"
    assert cache.find("k2", "RS256").kid == "k2"  # and now for everyone


def test_no_refresh_for_a_token_that_fails_cheaper_checks(keyring: KeyRing) -> None:
    cache, fetch = make_cache(keyring, [["k1"]], FakeClock())
    assert code_of(lambda: cache.find("k9", "RS256", may_refresh=False)) == "unknown_kid"
    assert len(fetch.calls) == 1


def test_rotation_found_by_forced_refresh_then_cached(keyring: KeyRing) -> None:
    cache, fetch = make_cache(keyring, [["k1"], ["k1", "k2"]], FakeClock())
    cache.key_set()
    assert cache.find("k2", "RS256").kid == "k2"
    assert cache.find("k2", "RS256").kid == "k2"
    assert cache.find("k1", "RS256").kid == "k1"
    assert len(fetch.calls) == 2


def test_fetch_failure_is_jwks_unavailable_and_retried(keyring: KeyRing) -> None:
    cache, fetch = make_cache(keyring, ["error", ["k1"]], FakeClock())
    assert code_of(cache.key_set) == "jwks_unavailable"
    assert cache.find("k1", "RS256").kid == "k1"
    assert len(fetch.calls) == 2


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([], id="not-an-object"),
        pytest.param({"keys": "k1"}, id="keys-not-a-list"),
        pytest.param({}, id="no-keys-member"),
    ],
)
def test_invalid_document_is_jwks_invalid(document: Any) -> None:
    cache = JwksCache(JWKS_URI, FakeFetch([document]))
    assert code_of(cache.key_set) == "jwks_invalid"


def test_unusable_keys_are_skipped(keyring: KeyRing) -> None:
    good = keyring.public_jwks(["k1"])["keys"][0]
    enc = {**keyring.public_jwks(["k2"])["keys"][0], "use": "enc"}
    document = {
        "keys": [
            {"kty": "oct", "kid": "s1", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"},  # never from a JWKS
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kty": "PQC", "kid": "future"},
            "not-a-key",
            enc,
            good,
        ]
    }
    cache = JwksCache(JWKS_URI, FakeFetch([document]))
    assert cache.find("k1", "RS256").kid == "k1"
    assert code_of(lambda: cache.find("s1", "HS256")) == "unknown_kid"
    assert code_of(lambda: cache.find("k2", "RS256")) == "unknown_kid"  # use=enc


@pytest.mark.parametrize(
    ("names", "kid", "alg", "expect"),
    [
        pytest.param(["k1"], None, "RS256", "k1", id="no-kid-one-key"),
        pytest.param(["k1", "ec", "ed"], None, "ES256", "e1", id="no-kid-one-fitting-ec"),
        pytest.param(["k1", "ec", "ed"], None, "EdDSA", "d1", id="no-kid-one-fitting-okp"),
        pytest.param(["k1", "k2"], None, "RS256", "kid_ambiguous", id="no-kid-two-rsa"),
        pytest.param(["ec"], None, "ES384", "unknown_kid", id="no-kid-wrong-curve"),
        pytest.param(["k1"], "k1", "ES256", "unknown_kid", id="kid-fits-other-alg"),
        pytest.param(["k1"], "k1", "PS512", "k1", id="rsa-key-for-pss"),
        pytest.param(["ec384"], "e2", "ES384", "e2", id="p384-for-es384"),
        pytest.param(["ec384"], "e2", "ES256", "unknown_kid", id="p384-not-for-es256"),
    ],
)
def test_key_selection(
    keyring: KeyRing, names: list[str], kid: str | None, alg: str, expect: str
) -> None:
    cache, _ = make_cache(keyring, [names], FakeClock())
    result: list[str] = []
    code = code_of(lambda: result.append(cache.find(kid, alg).kid or ""))
    assert (result[0] if code == "ok" else code) == expect


def test_key_published_for_one_alg_is_not_used_for_another(keyring: KeyRing) -> None:
    data = {**keyring.public_jwks(["k2"])["keys"][0], "alg": "RS512"}
    cache = JwksCache(JWKS_URI, FakeFetch([{"keys": [data]}]))
    assert cache.find("k2", "RS512").kid == "k2"
    assert code_of(lambda: cache.find("k2", "RS256")) == "unknown_kid"


def test_routine_refresh_after_max_age_keeps_stale_keys_on_failure(keyring: KeyRing) -> None:
    clock = FakeClock()
    fetch = FakeFetch([keyring.public_jwks(["k1"]), OSError("down"), keyring.public_jwks(["k2"])])
    cache = JwksCache(JWKS_URI, fetch, min_refresh_interval=60.0, clock=clock, max_age=3600.0)
    assert cache.find("k1", "RS256").kid == "k1"
    clock.now += 3601
    assert cache.find("k1", "RS256").kid == "k1"  # refresh failed: previous keys kept
    assert len(fetch.calls) == 2
    clock.now += 30
    cache.key_set()
    assert len(fetch.calls) == 2  # no retry within min_refresh_interval
    clock.now += 31
    assert [key.kid for key in cache.key_set()] == ["k2"]  # withdrawn k1 is gone
    assert len(fetch.calls) == 3


def test_concurrent_unknown_kids_cause_one_forced_refresh(keyring: KeyRing) -> None:
    documents = [keyring.public_jwks(["k1"])]

    def slow_fetch(url: str) -> dict[str, Any]:
        calls.append(url)
        time.sleep(0.05)
        return documents[0]

    calls: list[str] = []
    cache = JwksCache(JWKS_URI, slow_fetch)
    cache.key_set()
    barrier = threading.Barrier(8)
    codes: list[str] = []

    def worker(index: int) -> None:
        barrier.wait()
        codes.append(code_of(lambda: cache.find(f"random-{index}", "RS256")))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == ["unknown_kid"] * 8
    assert len(calls) == 2  # the first fetch, then one refresh; the floor bars the rest
