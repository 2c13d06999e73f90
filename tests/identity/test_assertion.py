"""The identity assertion's claims and its reuse (issue 20.2): signed at most once a minute per
identity, app and issuer, afresh when the identity or the signing key changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from ssomw.identity.assertion import REUSE, Assertions
from ssomw.identity.keys import KEY_REFRESH, KeyRing
from ssomw.store.sqlite import SqliteStore

from .test_keys import SECRET, Clock

ANN = {"user": "ann", "email": "ann@example.com", "name": "Ann", "groups": ["staff", "admins"],
       "provider": "idp"}


@pytest.fixture
def made(tmp_path: Path):
    store = SqliteStore(str(tmp_path / "a.db"))
    clock = Clock()
    ring = KeyRing(store, [SECRET], clock)
    yield Assertions(ring, None, "/sso", clock), ring, clock
    store.close()


def claims(token: str, ring: KeyRing) -> dict:
    return dict(jwt.decode(token, KeySet.import_key_set(ring.jwks()),
                           algorithms=["ES256"]).claims)


def test_claims(made):
    assertions, ring, clock = made
    iss = assertions.issuer("https://wiki.example.com:8443/a/b?c")
    assert iss == "https://wiki.example.com:8443/sso"
    token = assertions.token(ANN, "wiki", iss)
    assert token is not None
    assert claims(token, ring) == {
        "iss": iss, "aud": "wiki", "sub": "ann", "email": "ann@example.com", "name": "Ann",
        "groups": ["admins", "staff"], "iat": int(clock.now), "exp": int(clock.now) + 300}
    public = Assertions(ring, "https://sso.example.com/", "/sso", clock)
    assert public.issuer("http://wiki.example.com/") == "https://sso.example.com/sso"


def test_reused_for_a_minute_then_signed_afresh(made):
    assertions, ring, clock = made
    first = assertions.token(ANN, "wiki", "https://w/sso")
    clock.now += REUSE - 1
    assert assertions.token(ANN, "wiki", "https://w/sso") == first
    assert assertions.token(ANN, "desk", "https://w/sso") != first  # another audience
    assert assertions.token({**ANN, "groups": ["staff"]}, "wiki", "https://w/sso") != first
    clock.now += 2
    assert assertions.token(ANN, "wiki", "https://w/sso") != first


def test_a_rotation_is_in_force_within_the_key_refresh(made, tmp_path):
    assertions, ring, clock = made
    first = assertions.token(ANN, "wiki", "https://w/sso")
    other = KeyRing(ring.store, [SECRET], clock)  # `ssomw keys rotate` elsewhere
    new = other.rotate()
    clock.now += KEY_REFRESH
    token = assertions.token(ANN, "wiki", "https://w/sso")
    assert token != first and jwt.decode(token, KeySet.import_key_set(ring.jwks()),
                                         algorithms=["ES256"]).header["kid"] == new.kid
