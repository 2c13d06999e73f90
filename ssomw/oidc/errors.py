"""Errors raised while validating provider-issued tokens.

A ``TokenError`` carries a short machine ``code`` (for logs, metrics and the back-channel
``error_description``) and a message that never contains token contents: both may be shown
to whoever sent the token, and the token itself may be a bearer credential.
"""

from __future__ import annotations

#: Default safe messages, one per code. Unknown codes fall back to a generic message.
MESSAGES: dict[str, str] = {
    "malformed": "token is malformed",
    "encrypted_token": "encrypted (JWE) tokens are not accepted",
    "alg_none": "unsigned tokens (alg none) are never accepted",
    "alg_not_allowed": "token signing algorithm is not allowed for this provider",
    "crit_unsupported": "token uses critical header parameters",
    "typ_mismatch": "token type is not accepted here",
    "bad_signature": "token signature is invalid",
    "unknown_kid": "no provider key matches the token",
    "kid_ambiguous": "token has no kid and the provider publishes several keys",
    "jwks_unavailable": "provider keys could not be fetched",
    "jwks_invalid": "provider key set is invalid",
    "iss_mismatch": "token issuer does not match the provider",
    "aud_mismatch": "token audience does not include this client",
    "azp_missing": "token has several audiences but no authorized party",
    "azp_mismatch": "token authorized party is not this client",
    "exp_missing": "token has no expiry",
    "expired": "token has expired",
    "iat_missing": "token has no issue time",
    "iat_future": "token is issued in the future",
    "iat_too_old": "token was issued too long ago",
    "nonce_missing": "token has no nonce",
    "nonce_mismatch": "token nonce does not match the request",
    "nonce_present": "logout token must not contain a nonce",
    "sub_missing": "token has no subject",
    "at_hash_mismatch": "token at_hash does not match the access token",
    "events_invalid": "logout token has no back-channel logout event",
    "sub_and_sid_missing": "logout token has neither sub nor sid",
    "sid_invalid": "logout token sid is not a string",
    "jti_missing": "logout token has no jti",
    "replayed_jti": "logout token was already used",
}


class TokenError(Exception):
    """A token failed validation; ``code`` says which rule, ``message`` is safe to show."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, "token is invalid")
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"TokenError({self.code!r}, {self.message!r})"
