"""Back-Channel Logout 1.0 §2.6: the logout token rules, on top of the shared JWS checks.

The structure, header, algorithm and signature checks are the ID token's (tokens.py), so both
kinds of token are judged by one implementation; only the claims rules differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ssomw.oidc.errors import TokenError
from ssomw.oidc.jwks import JwksCache
from ssomw.oidc.tokens import (
    Claims,
    TokenPolicy,
    _verified_token,
    check_aud,
    check_exp,
    check_iat,
    check_iss,
)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def validate_logout_token(token: str, policy: TokenPolicy, jwks: JwksCache,
                          seen_jti: Callable[[str, float], bool],
                          now: float | None = None) -> Claims:
    """Validate a Back-Channel Logout token; return its claims or raise TokenError.

    ``seen_jti(jti, expires_at)`` records the jti until ``expires_at`` and returns True if it
    was already recorded. It is called last, so an invalid token never uses up a jti.
    """
    now = time.time() if now is None else now
    # typ is not checked: explicit typing of logout tokens is only RECOMMENDED
    # anyone can POST a logout token: never worth waiting for a key refresh
    _, claims, _ = _verified_token(token, policy, jwks, lambda header: None, now,
                                   from_provider=False)
    check_iss(claims, policy.issuer)
    check_aud(claims, policy.client_id)
    check_logout_iat(claims, now, policy.leeway, policy.max_iat_age)
    check_exp(claims, now, policy.leeway, required=False)
    check_events(claims)
    check_no_nonce(claims)
    check_sub_or_sid(claims)
    jti = check_jti(claims)
    if seen_jti(jti, _replay_window_end(claims, policy)):
        raise TokenError("replayed_jti")
    return claims


def check_logout_iat(claims: Claims, now: float, leeway: float, max_age: float) -> None:
    """Back-Channel Logout §2.6 point 4: "Validate the iss, aud, iat, and exp Claims in the same
    way they are validated in ID Tokens."  iat is REQUIRED (§2.4); older than max_age is
    refused so that remembered jti values can expire.
    """
    check_iat(claims, now, leeway)
    if now - claims["iat"] > max_age:
        raise TokenError("iat_too_old")


def check_events(claims: Claims) -> None:
    """Back-Channel Logout §2.6 point 6: "Verify that the Logout Token contains an events Claim
    whose value is JSON object containing the member name
    http://schemas.openid.net/event/backchannel-logout."  §2.4: "The corresponding member value
    MUST be a JSON object".
    """
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise TokenError("events_invalid")


def check_no_nonce(claims: Claims) -> None:
    """Back-Channel Logout §2.6 point 7: "Verify that the Logout Token does not contain a nonce
    Claim."""
    if "nonce" in claims:
        raise TokenError("nonce_present")


def check_sub_or_sid(claims: Claims) -> None:
    """Back-Channel Logout §2.6 point 5: "Verify that the Logout Token contains a sub Claim, a
    sid Claim, or both."  §2.4: sid is a "String identifier for a Session"; sub is a string.
    """
    sub, sid = claims.get("sub"), claims.get("sid")
    if sub is None and sid is None:
        raise TokenError("sub_and_sid_missing")
    if sub is not None and (not isinstance(sub, str) or not sub):
        raise TokenError("sub_missing", "logout token sub is not a non-empty string")
    if sid is not None and (not isinstance(sid, str) or not sid):
        raise TokenError("sid_invalid")


def check_jti(claims: Claims) -> str:
    """Back-Channel Logout §2.4: "jti REQUIRED. Unique identifier for the token"; §2.6 point 8:
    "verify that another Logout Token with the same jti value has not been recently received."
    """
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise TokenError("jti_missing")
    return jti


def _replay_window_end(claims: Claims, policy: TokenPolicy) -> float:
    """When the token stops being acceptable anyway (too old or expired): remember its jti
    until then, plus a second so the boundary instant is covered."""
    end = claims["iat"] + policy.max_iat_age  # both were checked to be numbers
    if claims.get("exp") is not None:
        end = min(end, claims["exp"] + policy.leeway)
    return end + 1.0
