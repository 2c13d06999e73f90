"""The gateway's signing keys (issue 20.2): one set in the store for every instance, rotation
that keeps old keys published until their tokens expire, private keys sealed."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet

from ssomw.identity.keys import NAMESPACE, PUBLISH_AFTER_RETIRED, KeyRing, NoSigningKey
from ssomw.identity.sealing import Sealer
from ssomw.store.sqlite import SqliteStore

SECRET = "s" * 40
OLDER = "o" * 40


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path):
    store = SqliteStore(str(tmp_path / "keys.db"))
    yield store
    store.close()


def verify(token: str, jwks: dict) -> dict:
    return dict(jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"]).claims)


def test_instances_share_one_key_and_publish_the_same_set(store):
    one, two = KeyRing(store, [SECRET]), KeyRing(store, [SECRET])
    token = one.sign({"sub": "ann"})[0]
    assert verify(token, two.jwks()) == {"sub": "ann"}
    assert one.jwks() == two.jwks() and len(one.jwks()["keys"]) == 1
    [public] = one.jwks()["keys"]
    assert public["alg"] == "ES256" and public["kty"] == "EC" and public["use"] == "sig"
    assert "d" not in public  # never the private half


def test_the_first_key_is_made_once_whoever_asks_at_the_same_moment(store):
    rings = [KeyRing(store, [SECRET]) for _ in range(6)]
    barrier = threading.Barrier(len(rings))
    kids: list[str] = []

    def first(ring: KeyRing) -> None:
        barrier.wait()
        kids.append(ring.active().kid)

    threads = [threading.Thread(target=first, args=(r,)) for r in rings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(kids)) == 1 and len(store.kv_items(NAMESPACE)) == 1


def test_rotation_keeps_the_previous_key_published_until_its_tokens_expired(store):
    clock = Clock()
    ring = KeyRing(store, [SECRET], clock)
    old_token = ring.sign({"sub": "ann", "exp": int(clock.now) + 300})[0]
    old = ring.active()
    new = ring.rotate()
    assert new.kid != old.kid and ring.active().kid == new.kid
    assert verify(ring.sign({"sub": "bob"})[0], ring.jwks())["sub"] == "bob"
    assert verify(old_token, ring.jwks())["sub"] == "ann"  # still published
    states = {k.kid: k.state(clock.now) for k in ring.keys()}
    assert states == {old.kid: "published", new.kid: "active"}
    clock.now += PUBLISH_AFTER_RETIRED - 1
    assert {k["kid"] for k in ring.jwks()["keys"]} == {old.kid, new.kid}
    clock.now += 2
    assert [k.kid for k in ring.keys(fresh=True) if k.state(clock.now) == "retired"] == \
        [old.kid]
    assert [k["kid"] for k in ring.jwks()["keys"]] == [new.kid]
    with pytest.raises(InvalidKeyIdError):
        verify(old_token, ring.jwks())
    ring.rotate()  # drops the private half of keys no longer published
    entry = json.loads(store.kv_get(NAMESPACE, "00000001") or b"{}")
    assert entry["kid"] == old.kid and "sealed" not in entry


def test_private_keys_are_sealed_in_the_store(store):
    ring = KeyRing(store, [SECRET])
    ring.active()
    [(_, raw)] = store.kv_items(NAMESPACE)
    entry = json.loads(raw)
    assert set(entry) == {"kid", "created", "public", "sealed"}
    assert '"d"' not in raw.decode() and entry["sealed"].startswith("s1.")


def test_a_key_sealed_with_an_older_session_key_is_sealed_again_with_the_first(store):
    KeyRing(store, [OLDER]).active()
    before = json.loads(store.kv_items(NAMESPACE)[0][1])["sealed"]
    rotated = KeyRing(store, [SECRET, OLDER])  # session.secret_keys rotated: new key first
    token = rotated.sign({"sub": "ann"})[0]
    after = json.loads(store.kv_items(NAMESPACE)[0][1])["sealed"]
    assert after != before
    assert verify(KeyRing(store, [SECRET]).sign({"sub": "x"})[0], rotated.jwks())["sub"] == "x"
    assert verify(token, rotated.jwks())["sub"] == "ann"


def test_a_key_no_configured_secret_opens_signs_nothing(store):
    KeyRing(store, [OLDER]).active()
    with pytest.raises(NoSigningKey, match="ssomw keys rotate"):
        KeyRing(store, [SECRET]).sign({"sub": "ann"})[0]
    ring = KeyRing(store, [SECRET])
    ring.rotate()
    assert verify(ring.sign({"sub": "ann"})[0], ring.jwks())["sub"] == "ann"


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1], id="flipped-byte"),
    pytest.param(lambda s: "s1." + "A" * 10, id="truncated"),
    pytest.param(lambda s: "plain", id="not-sealed"),
])
def test_a_sealed_value_opens_only_as_it_was_sealed(tamper):
    sealer = Sealer([SECRET], "t")
    sealed = sealer.seal(b"secret", "kid-1")
    assert sealer.open(sealed, "kid-1").data == b"secret"
    assert sealer.open(sealed, "kid-2") is None  # bound to its place in the store
    assert Sealer([SECRET], "other purpose").open(sealed, "kid-1") is None
    assert sealer.open(tamper(sealed), "kid-1") is None
