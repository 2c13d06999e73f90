"""The authorization-code flow against one provider, with Authlib's OAuth2 client.

``start_login`` builds the authorization request (state, nonce, PKCE S256, the provider's extra
parameters); ``finish_login`` exchanges the code once, validates the ID token before anything
else is trusted, then calls userinfo and insists its ``sub`` matches. A failure at any step
raises SignInError with an error code for the error page, and nothing after it runs; a token
endpoint that refuses the gateway's own credentials is ``PROVIDER_MISCONFIGURED``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from ssomw.config.schema import RESERVED_AUTH_PARAMS
from ssomw.oidc.errors import TokenError
from ssomw.oidc.provider import Provider, ProviderUnavailable
from ssomw.oidc.tokens import check_acr, check_auth_time, validate_id_token

LEVEL_ERRORS = frozenset({"acr_not_satisfied", "auth_time_missing", "auth_too_old"})
# Token endpoint errors (RFC 6749 §5.2) that mean our registration or credentials are wrong,
# not that the response was tampered with: the user is told the gateway is misconfigured.
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


class SignInError(Exception):
    """Sign-in failed; ``code`` picks the error page message, ``detail`` goes to the log only."""

    def __init__(self, code: str, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


@dataclass(frozen=True)
class LoginRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str | None


@dataclass(frozen=True)
class SignInResult:
    claims: dict[str, Any]     # ID token claims, completed by userinfo
    id_token: str
    access_token: str | None
    refresh_token: str | None
    expires_at: float | None


def oauth_session(provider: Provider, redirect_uri: str) -> OAuth2Session:
    s = provider.settings
    client = OAuth2Session(
        client_id=s["client_id"], client_secret=s.get("client_secret"),
        token_endpoint_auth_method=s["token_auth"], scope=" ".join(s["scopes"]),
        revocation_endpoint_auth_method=s["token_auth"],  # also introspection (RFC 7662)
        redirect_uri=redirect_uri,
        code_challenge_method="S256" if s["pkce"] else None,
        default_timeout=provider.timeout,
    )
    return client


def start_login(provider: Provider, redirect_uri: str,
                extra_params: dict[str, str] | None = None) -> LoginRequest:
    """The URL to send the browser to; raises SignInError when the provider is unreachable."""
    try:
        endpoint = provider.endpoint("authorization_endpoint")
        provider.ensure_reachable()
    except ProviderUnavailable as exc:
        raise SignInError("PROVIDER_UNAVAILABLE", str(exc)) from exc
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48) if provider.settings["pkce"] else None
    params = {k: v for k, v in {**provider.settings["auth_params"], **(extra_params or {})}.items()
              if k not in RESERVED_AUTH_PARAMS}
    client = oauth_session(provider, redirect_uri)
    url, _ = client.create_authorization_url(
        endpoint, state=state, code_verifier=verifier, nonce=nonce, **params)
    return LoginRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)


def finish_login(provider: Provider, code: str, redirect_uri: str, nonce: str,
                 code_verifier: str | None, *, acr_values: tuple[str, ...] | None = None,
                 max_age: float | None = None) -> SignInResult:
    """Exchange the code and verify everything; ``acr_values`` (essential acr) and ``max_age``
    are what the authorization request demanded, checked against the ID token."""
    client = oauth_session(provider, redirect_uri)
    try:
        token_endpoint = provider.endpoint("token_endpoint")
        token = client.fetch_token(token_endpoint, code=code, code_verifier=code_verifier,
                                   grant_type="authorization_code")
    except ProviderUnavailable as exc:
        raise SignInError("PROVIDER_UNAVAILABLE", str(exc)) from exc
    except requests.RequestException as exc:
        raise SignInError("PROVIDER_UNAVAILABLE", f"token endpoint: {type(exc).__name__}") from exc
    except OAuthError as exc:
        if exc.error in CLIENT_ERRORS:
            raise SignInError("PROVIDER_MISCONFIGURED", (
                f"token endpoint refused the gateway's client ({exc.error}): check the "
                f"provider's client_id, client_secret and token_auth "
                f"({provider.settings['token_auth']}) against its registration")) from exc
        raise SignInError("INVALID_RESPONSE", f"token endpoint refused the code: {exc}") from exc
    except ValueError as exc:
        raise SignInError("INVALID_RESPONSE", f"token endpoint refused the code: {exc}") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInError("INVALID_RESPONSE", "token response has no id_token")
    access_token = token.get("access_token")
    try:
        policy = provider.token_policy()
        claims = validate_id_token(id_token, policy, provider.jwks(), nonce,
                                   access_token if isinstance(access_token, str) else None)
        if acr_values:
            check_acr(claims, acr_values)
        if max_age is not None:
            check_auth_time(claims, max_age, time.time(), policy.leeway)
    except TokenError as exc:
        code = "AUTH_LEVEL_NOT_MET" if exc.code in LEVEL_ERRORS else "INVALID_RESPONSE"
        raise SignInError(code, f"id_token rejected: {exc.code}") from exc
    except ProviderUnavailable as exc:
        raise SignInError("PROVIDER_UNAVAILABLE", str(exc)) from exc
    claims = {**claims, **userinfo(provider, client, claims["sub"])}
    expires_at = token.get("expires_at")
    return SignInResult(
        claims=claims, id_token=id_token,
        access_token=access_token if isinstance(access_token, str) else None,
        refresh_token=token.get("refresh_token") if isinstance(token.get("refresh_token"), str)
        else None,
        expires_at=float(expires_at) if isinstance(expires_at, (int, float)) else None,
    )


def userinfo(provider: Provider, client: OAuth2Session, sub: str) -> dict[str, Any]:
    """Userinfo claims (OIDC Core 5.3.2: its ``sub`` MUST be verified to match the ID token's)."""
    endpoint = provider.endpoint("userinfo_endpoint")
    if not endpoint:
        return {}
    try:
        response = client.get(endpoint, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise SignInError("PROVIDER_UNAVAILABLE", f"userinfo: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise SignInError("INVALID_RESPONSE", f"userinfo answered {response.status_code}")
    try:
        info = response.json()
    except ValueError as exc:
        raise SignInError("INVALID_RESPONSE", "userinfo is not JSON") from exc
    if not isinstance(info, dict) or info.get("sub") != sub:
        raise SignInError("INVALID_RESPONSE", "userinfo sub does not match the id_token")
    # Protocol claims stay as the validated ID token says.
    return {k: v for k, v in info.items() if k not in ("iss", "aud", "sub", "nonce", "azp")}
