"""Bearer access tokens sent by scripts, CI jobs and SPAs (contract §7).

A JWT access token of an accepted provider is validated here, locally, with the same JWS
checks as ID tokens (``tokens.py``: structure, ``alg`` never ``none`` and as pinned or
discovered, the provider's JWKS with its rate-limited refresh, the signature), then the rules
of RFC 9068 and RFC 6750 that a resource server owns: issuer, lifetime, audience, scopes.
An opaque token is asked about at the provider's RFC 7662 introspection endpoint when the app
allows it (``introspection.py``). The caller caches a good answer per token until it expires,
so a signature is checked once per token, not per request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ssomw.oidc.errors import TokenError
from ssomw.oidc.jwks import JwksCache
from ssomw.oidc.tokens import (
    Claims,
    Header,
    TokenPolicy,
    _number,
    _verified_token,
    check_exp,
    check_iss,
)

# RFC 9068 §2.1: "typ" is "at+jwt" (or "application/at+jwt"); tokens with another explicit typ
# (an ID token says "JWT" or nothing, a logout token "logout+jwt") are refused only when
# they say they are something else.
ACCESS_TYPS = frozenset({"at+jwt", "application/at+jwt", "jwt", "application/jwt"})


@dataclass(frozen=True)
class Expectations:
    """What an app asks of a bearer token (``apps[].api.bearer``)."""

    audiences: frozenset[str]
    scopes: frozenset[str]


def check_typ_access(header: Header) -> None:
    """RFC 9068 §4: resource servers "MUST verify that the typ header value is "at+jwt" or
    "application/at+jwt" and reject tokens carrying any other value" — relaxed to also accept
    the generic ``JWT`` most providers send, and an absent typ; anything else (``logout+jwt``,
    ``id_token``…) is another kind of token."""
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCESS_TYPS):
        raise TokenError("typ_mismatch", "token is not an access token")


def check_not_id_token(claims: Claims) -> None:
    """An ID token is no access token (OIDC Core 2: it is for the client, not a resource
    server). ID tokens the gateway ever asks for carry a ``nonce``; access tokens never do."""
    if "nonce" in claims or "at_hash" in claims:
        raise TokenError("not_access_token", "an ID token is not a bearer token")


def check_nbf(claims: Claims, now: float, leeway: float) -> None:
    """RFC 7519 §4.1.5: the JWT "MUST NOT be accepted for processing" before ``nbf``."""
    nbf = _number(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise TokenError("not_yet_valid")


def check_audience(claims: Claims, audiences: frozenset[str]) -> None:
    """RFC 9068 §4: the resource server "MUST validate that the aud claim contains a resource
    indicator value corresponding to an identifier the resource server expects for itself"."""
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(v, str) and v in audiences for v in values):
        raise TokenError("aud_mismatch", "token is not for this app")


def granted_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """RFC 8693 §4.2 ``scope`` (a space-separated string) or the common ``scp`` list."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, str):
        return frozenset(scp.split())
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    return frozenset()


def check_scopes(claims: Mapping[str, Any], required: Iterable[str]) -> None:
    """RFC 6750 §3.1 ``insufficient_scope``: "The request requires higher privileges than
    provided by the access token" — every required scope must be granted."""
    missing = set(required) - granted_scopes(claims)
    if missing:
        raise TokenError("insufficient_scope", "token lacks a required scope")


def validate_access_token(token: str, policy: TokenPolicy, jwks: JwksCache,
                          expect: Expectations, now: float | None = None) -> Claims:
    """A JWT access token's claims, or TokenError. The scope check comes last, so its error
    (``insufficient_scope``: a 403) is only ever about a token that is otherwise good."""
    now = time.time() if now is None else now
    _, claims, _ = _verified_token(
        token, policy, jwks, check_typ_access, now, from_provider=False,
        check_audience=lambda claims: check_audience(claims, expect.audiences))
    check_not_id_token(claims)
    check_iss(claims, policy.issuer)
    check_exp(claims, now, policy.leeway, required=True)
    check_nbf(claims, now, policy.leeway)
    check_audience(claims, expect.audiences)
    check_scopes(claims, expect.scopes)
    return claims


def check_introspection(answer: Mapping[str, Any], policy: TokenPolicy, expect: Expectations,
                        now: float) -> Claims:
    """RFC 7662 §2.2: ``active`` "REQUIRED. Boolean indicator of whether or not the presented
    token is currently active"; the optional ``iss``, ``exp``, ``nbf``, ``aud`` are checked when
    present (the provider vouches for them), the scopes always."""
    if answer.get("active") is not True:
        raise TokenError("inactive", "the provider says the token is not active")
    claims = dict(answer)
    if "iss" in claims:
        check_iss(claims, policy.issuer)
    check_exp(claims, now, policy.leeway, required=False)
    check_nbf(claims, now, policy.leeway)
    if "aud" in claims:
        check_audience(claims, expect.audiences)
    check_scopes(claims, expect.scopes)
    return claims


def client_of(claims: Mapping[str, Any]) -> str | None:
    """The client a token was issued to (RFC 9068 ``client_id``, else ``azp``)."""
    for name in ("client_id", "azp"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def is_client_token(claims: Mapping[str, Any]) -> bool:
    """A token with no user behind it (client credentials): RFC 9068 §2.2, "sub" then
    "SHOULD correspond to an identifier the authorization server uses to indicate the client
    application" — so no ``sub``, or ``sub`` equal to the client id."""
    sub = claims.get("sub")
    return not isinstance(sub, str) or not sub or sub == client_of(claims)
