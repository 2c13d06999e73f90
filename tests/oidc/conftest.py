"""Token minting for the token-validation tables (tests/data/*_token_cases.yaml).

A case is a mutation of a good token: ``header``/``claims`` overrides (``null`` deletes),
``drop`` (claims to delete), ``times`` (claim -> seconds from NOW), ``sign_with`` (key name),
``forge`` (build the JWS by hand: ``unsigned``, ``sign_alg``, ``hmac_secret: public_pem``),
``transform`` (``jwe``, ``append``, ``pad``, ``tamper_payload``) or ``raw`` (the literal input).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from joserfc import jwe, jwt
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from ssomw.oidc.jwks import JwksCache
from ssomw.oidc.logout_token import BACKCHANNEL_EVENT
from ssomw.oidc.tokens import TokenPolicy

NOW = 1_700_000_000.0
ISSUER = "https://idp.example.com"
CLIENT_ID = "gw-client"
CLIENT_SECRET = "hs-secret-6b1f0c2e9a7d4e3f8a5b2c1d0e9f8a7b"
NONCE = "n-0S6_WzA2Mj"
# Published vector (RS256): at_hash of this access token is "wfgvmE9VxjAudsl9lc6TqA".
ACCESS_TOKEN = "dNZX1hEZ9wBCzNL40Upu646bdzQA"
JWKS_URI = "https://idp.example.com/jwks"
DATA = Path(__file__).resolve().parents[1] / "data"

BASE_POLICY = TokenPolicy(
    issuer=ISSUER,
    client_id=CLIENT_ID,
    client_secret=CLIENT_SECRET,
    pinned_alg=None,
    discovered_algs=("RS256", "PS256", "ES256", "EdDSA", "HS256"),
)
DEFAULT_KEY_FOR_ALG = {"RS": "k1", "PS": "k1", "ES": "ec", "Ed": "ed", "HS": "secret"}


def load_cases(name: str) -> list[Any]:
    cases = yaml.safe_load((DATA / name).read_text())
    return [pytest.param(case, id=case["id"]) for case in cases]


@dataclass
class KeyRing:
    """The provider's keys, a rotated-in key and an attacker's key that reuses kid k1."""

    keys: dict[str, Key]

    def public_jwks(self, names: list[str]) -> dict[str, Any]:
        return {"keys": [self.keys[name].as_dict(private=False) for name in names]}

    def public_pem(self, name: str = "k1") -> bytes:
        return self.keys[name].as_pem(private=False)


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing(
        {
            "k1": RSAKey.generate_key(2048, {"kid": "k1", "use": "sig"}),
            "k2": RSAKey.generate_key(2048, {"kid": "k2"}),
            "ec": ECKey.generate_key("P-256", {"kid": "e1"}),
            "ec384": ECKey.generate_key("P-384", {"kid": "e2"}),
            "ed": OKPKey.generate_key("Ed25519", {"kid": "d1"}),
            "attacker": RSAKey.generate_key(2048, {"kid": "k1"}),
        }
    )


@dataclass
class FakeFetch:
    """Serves JWKS documents in order (the last one repeats); records every call."""

    documents: list[Any]
    calls: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> dict[str, Any]:
        self.calls.append(url)
        document = self.documents[min(len(self.calls), len(self.documents)) - 1]
        if isinstance(document, Exception):
            raise document
        return document


@dataclass
class FakeClock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


def make_cache(keyring: KeyRing, sets: list[Any], clock: FakeClock) -> tuple[JwksCache, FakeFetch]:
    """``sets``: per fetch, a list of key names or the string "error" (the fetch fails)."""
    documents = [
        OSError("connection refused") if names == "error" else keyring.public_jwks(names)
        for names in sets
    ]
    fetch = FakeFetch(documents)

    def sleep(seconds: float) -> None:  # waiting out the refresh floor takes no real time
        clock.now += seconds

    return JwksCache(JWKS_URI, fetch, min_refresh_interval=60.0, clock=clock,
                     sleep=sleep), fetch


def make_policy(overrides: dict[str, Any] | None) -> TokenPolicy:
    overrides = dict(overrides or {})
    if "discovered_algs" in overrides:
        overrides["discovered_algs"] = tuple(overrides["discovered_algs"])
    return replace(BASE_POLICY, **overrides)


def id_token_defaults() -> tuple[dict[str, Any], dict[str, Any]]:
    header = {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    claims = {
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": CLIENT_ID,
        "exp": NOW + 300,
        "iat": NOW,
        "nonce": NONCE,
        "auth_time": NOW - 5,
    }
    return header, claims


def logout_token_defaults() -> tuple[dict[str, Any], dict[str, Any]]:
    header = {"alg": "RS256", "kid": "k1", "typ": "logout+jwt"}
    claims = {
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": CLIENT_ID,
        "iat": NOW,
        "exp": NOW + 120,
        "jti": "bWJq-0001",
        "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    return header, claims


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _merge(base: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    merged = dict(base)
    for name, value in (overrides or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def at_hash_for(alg: str, key: Key | None, access_token: str) -> str:
    """The expected at_hash, computed independently of the code under test's helper."""
    data = access_token.encode("ascii")
    if alg == "EdDSA":
        digest = hashlib.sha512(data).digest()
        assert key is not None and key.get("crv") == "Ed25519"
    else:
        digest = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[
            alg[-3:]
        ](data).digest()
    return b64(digest[: len(digest) // 2])


def mint(
    keyring: KeyRing,
    case: dict[str, Any],
    defaults: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
) -> Any:
    """Build the token a case describes (see the module docstring)."""
    if "raw" in case:
        return case["raw"]
    base_header, base_claims = defaults()
    header = _merge(base_header, case.get("header"))
    claims = _merge(base_claims, case.get("claims"))
    for name in case.get("drop", []):
        claims.pop(name, None)
    for name, offset in (case.get("times") or {}).items():
        claims[name] = NOW + offset
    alg = header.get("alg")
    key_name = case.get("sign_with") or DEFAULT_KEY_FOR_ALG.get(str(alg)[:2], "k1")
    key = keyring.keys.get(key_name)
    if claims.get("at_hash") == "auto":
        claims["at_hash"] = at_hash_for(alg, key, case.get("access_token", ACCESS_TOKEN))
    transform = case.get("transform") or {}
    if "pad" in transform:
        claims["pad"] = "x" * transform["pad"]
    if transform.get("jwe"):
        return jwe.encrypt_compact(
            {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "k2"},
            json.dumps(claims),
            keyring.keys["k2"],
            algorithms=["RSA-OAEP-256", "A256GCM"],
        )
    if "forge" in case:
        token = _forge(keyring, header, claims, case["forge"])
    else:
        registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
        signing_key = _secret_key() if key_name == "secret" else key
        token = jwt.encode(header, claims, signing_key, registry=registry)
    if transform.get("tamper_payload"):
        head, _, signature = token.split(".")
        forged = {**claims, **transform["tamper_payload"]}
        token = ".".join([head, b64(json.dumps(forged).encode()), signature])
    return token + transform.get("append", "")


def _secret_key() -> Key:
    return OctKey.import_key(CLIENT_SECRET)


def _forge(
    keyring: KeyRing, header: dict[str, Any], claims: dict[str, Any], how: dict[str, Any]
) -> str:
    """Hand-built JWS for what joserfc rightly refuses to produce (none, crit, key confusion)."""
    payload = how.get("payload_json", json.dumps(claims))
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload.encode())}"
    if how.get("unsigned"):
        return signing_input + "."
    if how.get("hmac_secret") == "public_pem":
        mac = hmac.new(keyring.public_pem(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"
    sign_alg = how.get("sign_alg", "RS256")
    key = _secret_key() if how.get("key") == "secret" else keyring.keys[how.get("key", "k1")]
    signature = JWSRegistry.algorithms[sign_alg].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"
