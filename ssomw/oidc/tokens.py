"""ID token and logout token validation (contract §5).

Each rule is one small validator quoting the sentence it enforces; they fail on the first
problem, in the order structure -> header/alg -> signature -> claims, so ``alg`` is judged
before any key is chosen and no claim is read before the signature holds. JWS parsing and
verification are joserfc's; only the ``at_hash`` digest (defined by OIDC Core) is ours.
Decisions beyond the letter of the specs: several audiences need ``azp`` (Core says SHOULD);
``at_hash`` without an access token to check fails; no pinned and no discovered alg means RS256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key, OctKey
from joserfc.util import json_b64decode

from ssomw.oidc.errors import TokenError
from ssomw.oidc.jwks import JwksCache

ASYMMETRIC_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})
MAX_TOKEN_LENGTH = 16 * 1024
LOGOUT_TYP = "logout+jwt"

Claims = dict[str, Any]
Header = dict[str, Any]


@dataclass(frozen=True)
class TokenPolicy:
    """What one provider's tokens must satisfy (built from config + discovery)."""

    issuer: str
    client_id: str
    client_secret: str | None  # for HS* only when pinned
    pinned_alg: str | None  # id_token_signed_response_alg
    discovered_algs: tuple[str, ...]  # id_token_signing_alg_values_supported
    leeway: float = 60.0  # clock skew for exp/iat
    max_iat_age: float = 600.0  # logout tokens: iat too far in the past is rejected

    def allowed_algs(self) -> frozenset[str]:
        """The pinned alg, else the asymmetric algs the discovery lists (default RS256).

        OIDC Registration: id_token_signed_response_alg "The default, if omitted, is RS256."
        """
        if self.pinned_alg:
            return frozenset({self.pinned_alg}) & (ASYMMETRIC_ALGS | HMAC_ALGS)
        return frozenset(self.discovered_algs or ("RS256",)) & ASYMMETRIC_ALGS


def validate_id_token(token: str, policy: TokenPolicy, jwks: JwksCache, nonce: str,
                      access_token: str | None, now: float | None = None) -> Claims:
    """Validate an ID token from the token endpoint; return its claims or raise TokenError."""
    header, claims, key = _id_token(token, policy, jwks, now)
    check_nonce(claims, nonce)
    check_sub(claims)
    check_at_hash(claims, header["alg"], key, access_token)
    return claims


def _id_token(token: str, policy: TokenPolicy, jwks: JwksCache, now: float | None
              ) -> tuple[Header, Claims, Key]:
    """The checks every ID token passes, fresh or refreshed: signature, iss, aud, azp, exp,
    iat."""
    now = time.time() if now is None else now
    header, claims, key = _verified_token(token, policy, jwks, check_typ_not_logout, now,
                                          from_provider=True)
    check_iss(claims, policy.issuer)
    check_aud(claims, policy.client_id)
    check_azp(claims, policy.client_id)
    check_exp(claims, now, policy.leeway, required=True)
    check_iat(claims, now, policy.leeway)
    return header, claims, key


def unverified_issuer(token: object) -> str | None:
    """The ``iss`` a token claims, read without verification, only to pick which provider's
    keys and rules will then verify it. None when the token is not even a well-formed JWS."""
    try:
        claims = parse_claims(parse_compact(check_structure(token)).payload)
    except TokenError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def _verified_token(token: object, policy: TokenPolicy, jwks: JwksCache,
                    check_typ: Callable[[Header], None], now: float, *,
                    from_provider: bool,
                    check_audience: Callable[[Claims], None] | None = None,
                    ) -> tuple[Header, Claims, Key]:
    """Structure, header and signature checks shared by both token kinds.

    ``from_provider``: the token is the token endpoint's answer (not something anyone can
    send), so an unknown ``kid`` may wait for a key refresh (see :mod:`ssomw.oidc.jwks`).
    ``check_audience``: how a plausible token names us (default: ``aud`` has our client id)."""
    compact = check_structure(token)
    obj = parse_compact(compact)
    header = obj.protected
    check_alg_not_none(header)
    check_no_crit(header)
    check_header_values(header)
    check_alg_allowed(header, policy)
    check_typ(header)
    key = select_key(header, policy, jwks, from_provider=from_provider,
                     may_refresh=plausible(obj.payload, policy, now, check_audience))
    verify_signature(obj, header["alg"], key)
    return header, parse_claims(obj.payload), key


def check_structure(token: object) -> str:
    """RFC 7515 §7.1: a JWS Compact Serialization is "BASE64URL(UTF8(JWS Protected Header)) || '.'
    || BASE64URL(JWS Payload) || '.' || BASE64URL(JWS Signature)".  OIDC Core 3.1.3.7 point 1:
    "If the ID Token is encrypted, decrypt it using the keys and algorithms that the Client
    specified during Registration" -- we register none, so a JWE is refused.  Non-strings,
    empty and oversized (> 16 KiB) input are malformed.
    """
    if not isinstance(token, str) or not token:
        raise TokenError("malformed", "token is not a non-empty string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed", "token is too large")
    if not token.isascii():
        raise TokenError("malformed")
    dots = token.count(".")
    if dots == 4 and _is_jwe_header(token.partition(".")[0]):
        raise TokenError("encrypted_token")
    if dots != 2:
        raise TokenError("malformed", "token is not a compact JWS")
    return token


def _is_jwe_header(segment: str) -> bool:
    try:
        header = json_b64decode(segment.encode("ascii"))
    except (ValueError, TypeError, RecursionError):
        return False
    return isinstance(header, dict) and "enc" in header


def parse_compact(token: str) -> jws.CompactSignature:
    """Decode (not verify) the compact JWS so its header can be judged first."""
    try:
        obj = jws.extract_compact(token.encode("ascii"), registry=_registry(None))
    except (JoseError, ValueError, TypeError, RecursionError) as exc:
        raise TokenError("malformed", "token header or payload cannot be decoded") from exc
    if not isinstance(obj.protected, dict):
        raise TokenError("malformed", "token header is not a JSON object")
    return obj


def parse_claims(payload: bytes | None) -> Claims:
    """RFC 7519 §4: "The JWT Claims Set represents a JSON object whose members are the claims
    conveyed by the JWT."  ``Infinity``/``NaN`` are not JSON (and would defeat exp/iat checks).
    """
    try:
        claims = json.loads(payload or b"", parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise TokenError("malformed", "token payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise TokenError("malformed", "token payload is not a JSON object")
    return claims


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_alg_not_none(header: Header) -> None:
    """OIDC Core §2: "ID Tokens MUST be signed using JWS".  Back-Channel Logout §2.6 point 3:
    "Additionally, an alg with the value none MUST NOT be used for Logout Tokens."  Any case.
    """
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenError("malformed", "token alg is not a string")
    if alg.strip().lower() == "none":
        raise TokenError("alg_none")


def check_no_crit(header: Header) -> None:
    """RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood
    and supported by the recipient, then the JWS is invalid."  We support none of them.
    """
    if "crit" in header:
        raise TokenError("crit_unsupported")


def check_header_values(header: Header) -> None:
    """RFC 7515 §4.1.4: "The "kid" value is a case-sensitive string."  Likewise the other
    registered header parameters must have their registered types, or the token is malformed.
    """
    try:
        _registry(None).check_header(header)
    except (JoseError, ValueError, TypeError) as exc:
        raise TokenError("malformed", "token header has invalid parameter values") from exc


def check_alg_allowed(header: Header, policy: TokenPolicy) -> None:
    """OIDC Core 3.1.3.7 point 7: "The alg value SHOULD be the default of RS256 or the algorithm
    sent by the Client in the id_token_signed_response_alg parameter during Registration."
    HMAC only when pinned, so a public key can never be abused as an HMAC secret.
    """
    if header["alg"] not in policy.allowed_algs():
        raise TokenError("alg_not_allowed")


def check_typ_not_logout(header: Header) -> None:
    """RFC 8725 §3.11: "Explicit JWT typing is accomplished by using the "typ" Header
    Parameter."  A token typed as a logout token is never an ID token."""
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower().removeprefix("application/") == LOGOUT_TYP:
        raise TokenError("typ_mismatch")


def plausible(payload: bytes | None, policy: TokenPolicy, now: float,
              check_audience: Callable[[Claims], None] | None = None) -> bool:
    """Whether a token is worth a key refresh: its *unverified* claims name our issuer and
    our client and it has not expired. Only decides whether an unknown ``kid`` may cost a
    fetch (a token that fails these would be refused after its signature anyway); every
    claim is checked for real once the signature holds."""
    try:
        claims = parse_claims(payload)
        check_iss(claims, policy.issuer)
        if check_audience is None:
            check_aud(claims, policy.client_id)
        else:
            check_audience(claims)
        check_exp(claims, now, policy.leeway, required=False)
    except TokenError:
        return False
    return True


def select_key(header: Header, policy: TokenPolicy, jwks: JwksCache, *,
               from_provider: bool = False, may_refresh: bool = True) -> Key:
    """OIDC Core 3.1.3.7 point 8 (HS*): "the octets of the UTF-8 representation of the client_secret
    corresponding to the client_id contained in the aud (audience) Claim are used as the key to
    validate the signature."  Point 6: "The Client MUST use the keys provided by the Issuer."
    """
    alg = header["alg"]
    if alg in HMAC_ALGS:
        if not policy.client_secret:
            raise TokenError("alg_not_allowed", "HMAC alg pinned but no client secret")
        try:
            return OctKey.import_key(policy.client_secret)
        except (JoseError, ValueError) as exc:
            raise TokenError("alg_not_allowed", "client secret unusable as HMAC key") from exc
    # kid's type was checked with the header
    return jwks.find(header.get("kid"), alg, from_provider=from_provider,
                     may_refresh=may_refresh)


def verify_signature(obj: jws.CompactSignature, alg: str, key: Key) -> None:
    """OIDC Core 3.1.3.7 point 6: "The Client MUST validate the signature of all other ID Tokens
    according to JWS using the algorithm specified in the JWT alg Header Parameter."  We verify
    token-endpoint ID tokens too, with exactly that one alg, rather than rely on TLS alone.
    """
    try:
        valid = jws.validate_compact(obj, key, registry=_registry([alg]))
    except JoseError as exc:
        raise TokenError("bad_signature", "token signature cannot be checked") from exc
    if not valid:
        raise TokenError("bad_signature")


def _registry(algorithms: list[str] | None) -> jws.JWSRegistry:
    """A registry that ignores unknown header names (RFC 7515 §4) within our size limit."""
    registry = jws.JWSRegistry(algorithms=algorithms, strict_check_header=False)
    registry.max_header_length = MAX_TOKEN_LENGTH
    registry.max_signature_length = MAX_TOKEN_LENGTH
    return registry


def check_iss(claims: Claims, issuer: str) -> None:
    """OIDC Core 3.1.3.7 point 2: "The Issuer Identifier for the OpenID Provider (which is
    typically obtained during Discovery) MUST exactly match the value of the iss (issuer) Claim."
    """
    if claims.get("iss") != issuer:
        raise TokenError("iss_mismatch")


def _audiences(claims: Claims) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(value, str) for value in aud):
        return aud
    raise TokenError("aud_mismatch", "token audience is missing or not strings")


def check_aud(claims: Claims, client_id: str) -> None:
    """OIDC Core 3.1.3.7 point 3: "The Client MUST validate that the aud (audience) Claim
    contains its client_id value registered at the Issuer identified by the iss (issuer) Claim
    as an audience."
    """
    if client_id not in _audiences(claims):
        raise TokenError("aud_mismatch")


def check_azp(claims: Claims, client_id: str) -> None:
    """OIDC Core 3.1.3.7 points 4-5: "If the ID Token contains multiple audiences, the Client
    SHOULD verify that an azp Claim is present." and "If an azp (authorized party) Claim is
    present, the Client SHOULD verify that its client_id is the Claim Value."  Both enforced.
    """
    if "azp" in claims:
        if claims["azp"] != client_id:
            raise TokenError("azp_mismatch")
    elif len(_audiences(claims)) > 1:
        raise TokenError("azp_missing")


def _number(claims: Claims, name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenError("malformed", f"token {name} is not a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise TokenError("malformed", f"token {name} is not a finite number")
    return number


def check_exp(claims: Claims, now: float, leeway: float, required: bool) -> None:
    """OIDC Core 3.1.3.7 point 9: "The current time MUST be before the time represented by the
    exp Claim (possibly allowing for some small leeway to account for clock skew)."
    """
    exp = _number(claims, "exp")
    if exp is None:
        if required:
            raise TokenError("exp_missing")
        return
    if exp <= now - leeway:
        raise TokenError("expired")


def check_iat(claims: Claims, now: float, leeway: float) -> None:
    """OIDC Core 3.1.3.7 point 10: "The iat Claim can be used to reject tokens that were issued
    too far away from the current time".  iat is REQUIRED (§2); the future is refused.
    """
    iat = _number(claims, "iat")
    if iat is None:
        raise TokenError("iat_missing")
    if iat > now + leeway:
        raise TokenError("iat_future")


def check_nonce(claims: Claims, expected: str) -> None:
    """OIDC Core 3.1.3.7 point 11: "If a nonce value was sent in the Authentication Request, a
    nonce Claim MUST be present and its value checked to verify that it is the same value as
    the one that was sent in the Authentication Request."  Compared in constant time.
    """
    actual = claims.get("nonce")
    if actual is None:
        raise TokenError("nonce_missing")
    if not expected or not isinstance(actual, str):
        raise TokenError("nonce_mismatch")
    if not hmac.compare_digest(actual.encode("utf-8"), expected.encode("utf-8")):
        raise TokenError("nonce_mismatch")


def check_sub(claims: Claims) -> None:
    """OIDC Core §2: "sub REQUIRED. Subject Identifier. A locally unique and never reassigned
    identifier within the Issuer for the End-User"."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenError("sub_missing")


def check_at_hash(claims: Claims, alg: str, key: Key, access_token: str | None) -> None:
    """OIDC Core 3.1.3.6: at_hash "value is the base64url encoding of the left-most half of the
    hash of the octets of the ASCII representation of the access_token value, where the hash
    algorithm used is the hash algorithm used in the alg Header Parameter of the ID Token's
    JOSE Header."  For EdDSA the curve names the hash (Ed25519: SHA-512, Ed448: SHAKE256).
    """
    if "at_hash" not in claims:
        return
    at_hash = claims["at_hash"]
    if not isinstance(at_hash, str) or not access_token:
        raise TokenError("at_hash_mismatch")
    digest = _token_digest(alg, key, access_token.encode("utf-8"))
    expected = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=")
    if not hmac.compare_digest(expected, at_hash.encode("utf-8")):
        raise TokenError("at_hash_mismatch")


def _token_digest(alg: str, key: Key, data: bytes) -> bytes:
    if alg == "EdDSA":
        if key.get("crv") == "Ed448":
            return hashlib.shake_256(data).digest(114)
        return hashlib.sha512(data).digest()
    return hashlib.new(f"sha{alg[-3:]}", data).digest()


def check_acr(claims: Claims, requested: tuple[str, ...]) -> None:
    """OIDC Core 5.5.1.1: when ``acr`` is requested as an Essential Claim, "the returned acr
    value" must be one of the requested values; otherwise the authentication did not meet the
    level this app demands, and the sign-in is refused."""
    acr = claims.get("acr")
    if not isinstance(acr, str) or acr not in requested:
        raise TokenError("acr_not_satisfied", "the sign-in did not reach the required level")


def check_auth_time(claims: Claims, max_age: float, now: float, leeway: float) -> None:
    """OIDC Core 3.1.2.1 (max_age): "the End-User [must have] been actively authenticated by
    the OP" within max_age seconds, and 2 (auth_time): "When a max_age request is made ... this
    Claim is REQUIRED"."""
    auth_time = _number(claims, "auth_time")
    if auth_time is None:
        raise TokenError("auth_time_missing", "token has no auth_time although max_age was sent")
    if now - auth_time > max_age + leeway:
        raise TokenError("auth_too_old", "the sign-in at the provider is older than max_age")


def validate_refreshed_id_token(token: str, policy: TokenPolicy, jwks: JwksCache,
                                original: Claims, access_token: str | None,
                                now: float | None = None) -> Claims:
    """OIDC Core 12.2: a refreshed ID token "iss Claim Value MUST be the same as in the ID
    Token issued when the original authentication occurred", likewise ``sub`` and ``aud``;
    "if the ID Token contains a nonce Claim, its value MUST be the same" as the original's."""
    header, claims, key = _id_token(token, policy, jwks, now)
    check_sub(claims)
    if claims["sub"] != original.get("sub"):
        raise TokenError("sub_changed", "refreshed token is for another subject")
    if "nonce" in claims and claims["nonce"] != original.get("nonce"):
        raise TokenError("nonce_mismatch")
    check_at_hash(claims, header["alg"], key, access_token)
    return claims
