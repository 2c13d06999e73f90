"""Authlib's authorization server, wired to ssomw: the code grant with OpenID Connect and
PKCE, the userinfo and end-session endpoints, the discovery document.

Everything protocol-shaped is Authlib's (``AuthorizationCodeGrant``, ``OpenIDCode``,
``CodeChallenge``, ``UserInfoEndpoint``, ``EndSessionEndpoint``); this module only says where
things are kept and who the user is. ID tokens are signed by the gateway's key ring (ES256,
``kid``; joserfc inside), the same keys on every instance, rotated by ``ssomw keys rotate``.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfoEndpoint
from authlib.oidc.core.grants.util import create_half_hash
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import request as flask_request

from ssomw.broker.clients import SECRET_METHODS, Client, Clients
from ssomw.broker.logout import Links, fan_out_round
from ssomw.broker.tokens import (
    ACCESS_LIFETIME,
    ID_TOKEN_LIFETIME,
    AccessToken,
    AccessTokens,
    BrokerUser,
    Code,
    Codes,
    broker_sid,
    claims_for,
)
from ssomw.config.schema import BROKER_SCOPES
from ssomw.core.networks import address_bucket
from ssomw.gateway.runtime import Runtime
from ssomw.identity.keys import ALG
from ssomw.telemetry import audit

log = logging.getLogger("ssomw.broker")
PARKED = "broker-parked"
AUTH_FAILURES, AUTH_BLOCKED = "broker-auth-failures", "broker-auth-blocked"
AUTH_FAILURE_LIMIT = 20  # failed client authentications a minute per address (block)
PARK_LIFETIME = 600.0  # a sign-in (choice page, provider, second factor) fits in this


def broker_issuer(runtime: Runtime) -> str | None:
    """``broker.issuer``, else ``server.public_url`` + the path prefix (``ssomw check``
    requires one of them once clients are configured)."""
    section = runtime.config["broker"]
    if section.get("issuer"):
        return section["issuer"].rstrip("/")
    public = runtime.config["server"].get("public_url")
    return f"{public.rstrip('/')}{runtime.prefix}" if public else None


class Broker:
    """One configuration's provider: its clients, its Authlib server, its store records."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.clients = Clients(runtime.config["broker"]["clients"])
        self.issuer = broker_issuer(runtime) or ""
        self.codes = Codes(runtime.store)
        self.tokens = AccessTokens(runtime.store)
        self.links = Links(runtime.store)
        self.server = BrokerServer(self)

    def fan_out(self) -> int:
        """One back-channel logout round (see ``logout.py``)."""
        if not any(c.backchannel_logout_uri for c in self.clients):
            return 0
        return fan_out_round(self.runtime.store, self.runtime.keys, self.issuer,
                             self.clients.get, broker_sid)

    def park(self, params: Mapping[str, str]) -> str:
        """Keep an authorization request while the user signs in; the key to resume it."""
        key = secrets.token_urlsafe(24)
        self.runtime.store.kv_set(PARKED, key, json.dumps(dict(params)).encode(),
                                  PARK_LIFETIME)
        return key

    def resume(self, key: str) -> dict[str, str] | None:
        raw = self.runtime.store.kv_get(PARKED, key[:64]) if key else None
        if raw is None:
            return None
        data = json.loads(raw)
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None

    def app_of_parked(self, key: str) -> tuple[str | None, float | None, bool]:
        """For a sign-in started to resume parked request ``key``: the client's app (its
        routing and rules apply), the ``max_age`` the client asked for, and whether it asked
        for a new sign-in (``prompt=login``: the upstream provider must ask again)."""
        params = self.resume(key) or {}
        client = self.clients.get(params.get("client_id"))
        age = params.get("max_age", "")
        return (client.app if client else None, float(age) if age.isdigit() else None,
                "login" in params.get("prompt", "").split())

    def token_response(self, address: str) -> Any:
        """The token endpoint, with failed client authentications limited per client
        address (:data:`AUTH_FAILURE_LIMIT` a minute): each costs an argon2 verification, and
        a secret must not be guessable at speed."""
        store, bucket = self.runtime.store, address_bucket(address)
        if store.kv_get(AUTH_BLOCKED, bucket) is not None:
            return self.server.handle_response(429, {
                "error": "invalid_request", "error_description": "too many failed client "
                "authentications from this address; retry in a minute"},
                [("Content-Type", "application/json"), ("Retry-After", "60"),
                 ("Cache-Control", "no-store")])
        response = self.server.create_token_response()
        if response.status_code in (400, 401) and b'"invalid_client"' in response.get_data():
            if store.incr(AUTH_FAILURES, bucket, 60.0) > AUTH_FAILURE_LIMIT:
                log.warning("broker: over %d failed client authentications a minute from %s: "
                            "blocked for a minute", AUTH_FAILURE_LIMIT, bucket)
                store.kv_set(AUTH_BLOCKED, bucket, b"1", 60.0)
        return response

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """After a code is redeemed: keep the access token, note it against the code (a
        replay revokes it), and note that this client now holds the user's session (for
        back-channel logout, when it has a back-channel logout URI)."""
        user: BrokerUser = request.user
        client: Client = request.client
        self.tokens.save(token["access_token"], client.client_id, user.session_id,
                         token.get("scope", ""))
        self.codes.record_tokens(request.authorization_code, token["access_token"])
        if client.backchannel_logout_uri:
            self.links.add(user.session_id, client.client_id, user.user)
        audit.record(self.runtime.store, "broker", event="token", client=client.client_id,
                     user=user.user)

    def live_user(self, session_id: str) -> BrokerUser | None:
        """The user of a still-live ssomw session, as it is now (groups as of now)."""
        record = self.runtime.store.get_session(session_id)
        return BrokerUser.of(record) if record is not None else None

    def discovery(self) -> dict[str, Any]:
        """OpenID Connect Discovery 1.0 §3: the source of truth for the endpoints."""
        base = f"{self.issuer}/broker"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks.json",
            "end_session_endpoint": f"{base}/end-session",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALG],
            "token_endpoint_auth_methods_supported": [*SECRET_METHODS, "none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(BROKER_SCOPES),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
                                 "acr", "sid", "email", "email_verified", "name",
                                 "preferred_username", "groups"],
            "prompt_values_supported": ["none", "login"],
            "frontchannel_logout_supported": False,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }


class BrokerServer(AuthorizationServer):
    """Authlib's Flask authorization server for one :class:`Broker`."""

    def __init__(self, broker: Broker) -> None:
        super().__init__(query_client=broker.clients.get, save_token=broker.save_token)
        self.broker = broker
        self.load_config({"OAUTH2_TOKEN_EXPIRES_IN": {"authorization_code": ACCESS_LIFETIME},
                          "OAUTH2_SCOPES_SUPPORTED": list(BROKER_SCOPES)})
        self.register_grant(CodeGrant, [S256Challenge(required=True), IdTokens(broker)])
        protector = ResourceProtector()
        protector.register_token_validator(Bearer(broker))
        self.register_endpoint(UserInfo(resource_protector=protector))
        self.register_endpoint(EndSession(self))

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """``request`` may be parked authorization parameters (a dict) or None."""
        if isinstance(request, OAuth2Request):
            return request
        return BrokerRequest(request if isinstance(request, Mapping) else None)


class BrokerRequest(FlaskOAuth2Request):
    """The Flask request as Authlib reads it, optionally with parked authorization
    parameters (an authorization request resumed after sign-in).

    Transport security is the deployment's: the issuer is https (``ssomw check`` insists,
    except on loopback) and the proxy in front terminates TLS, so the gateway itself sees
    plain http. Authlib's own check reads the URL the gateway sees and would refuse every
    request; it is given the URL as the client sent it (https)."""

    def __init__(self, params: Mapping[str, str] | None = None) -> None:
        self._request = flask_request
        url = urlsplit(flask_request.url)
        OAuth2Request.__init__(self, flask_request.method,
                               urlunsplit(("https", *url[1:])), headers=flask_request.headers)
        self.payload = (BasicOAuth2Payload(dict(params)) if params is not None
                        else FlaskOAuth2Payload(flask_request))


class CodeGrant(AuthorizationCodeGrant):
    """RFC 6749 §4.1 with codes from :class:`Codes` (single-use, ≤ 60 s, bound)."""

    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, "none"]

    @property
    def broker(self) -> Broker:
        return self.server.broker

    def save_authorization_code(self, code: str, request: Any) -> None:
        user: BrokerUser = request.user
        data = request.payload.data
        self.broker.codes.save(code, Code(
            client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            scope=request.scope, session_id=user.session_id, user=user.user,
            nonce=data.get("nonce"), code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=user.auth_time, acr=user.acr))

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.broker.codes.redeem(code, client.client_id)
        if found is None:
            log.info("code refused for client %s (unknown, expired, another client's or "
                     "replayed)", client.client_id)
        return found

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Nothing left to delete: :meth:`Codes.redeem` popped it."""

    def authenticate_user(self, authorization_code: Code) -> BrokerUser | None:
        """The code's user, only while the ssomw session it was issued in still lives: a
        session that ended in between gives no tokens."""
        user = self.broker.live_user(authorization_code.session_id)
        return user if user is not None and user.user == authorization_code.user else None


class S256Challenge(CodeChallenge):
    """RFC 7636 with S256 only (``plain`` would send the verifier in the clear), required
    for public clients at the authorization request too, not only at the token request."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        client: Client = grant.request.client
        if client.public and not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required for public clients: send "
                                      "code_challenge with code_challenge_method=S256",
                                      redirect_uri=redirect_uri)
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class IdTokens(OpenIDCode):
    """OIDC Core §3.1.3.6: the ID token beside the access token, signed by the key ring."""

    def __init__(self, broker: Broker) -> None:
        super().__init__(require_nonce=False)
        self.broker = broker

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False  # codes are single-use; the client checks its own nonce

    def generate_user_info(self, user: BrokerUser, scope: str) -> Any:
        return claims_for(user, scope)

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.broker.issuer, "aud": client.client_id,
                "exp": int(time.time()) + ID_TOKEN_LIFETIME}

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        """Authlib's claims (iss, aud, iat, exp, nonce, auth_time, acr, at_hash, user info)
        plus ``sid``, signed with the gateway's active key (not a key handed to Authlib:
        private keys never leave the key ring)."""
        claims = self.get_compatible_claims(request)
        claims.update(self.get_authorization_code_claims(request.authorization_code))
        at_hash = create_half_hash(token["access_token"], ALG)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode()
        claims.update(self.generate_user_info(request.user, token["scope"]))
        claims["sid"] = request.user.sid
        return self.broker.runtime.keys.sign(claims)[0]


class Bearer(BearerTokenValidator):
    """Access tokens from the store, good only while their ssomw session lives."""

    def __init__(self, broker: Broker) -> None:
        super().__init__()
        self.broker = broker

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        record = self.broker.tokens.find(token_string)
        if record is None:
            return None
        client = self.broker.clients.get(record.get("client_id"))
        user = self.broker.live_user(str(record.get("session_id")))
        if client is None or user is None:
            return None
        return AccessToken(client=client, user=user, scope=str(record.get("scope", "")),
                           expires_at=float(record.get("expires_at", 0)))


class UserInfo(UserInfoEndpoint):
    """OIDC Core §5.3: the session's claims as of now, as the token's scopes allow."""

    def get_issuer(self) -> str:
        return self.server.broker.issuer

    def generate_user_info(self, user: BrokerUser, scope: str) -> Any:
        return claims_for(user, scope)


class EndSession(EndSessionEndpoint):
    """RP-Initiated Logout 1.0 validation (``id_token_hint`` signed by us, registered
    ``post_logout_redirect_uri``); the view ends the session itself, since it may have to
    go on to the upstream provider."""

    def get_server_jwks(self) -> dict[str, Any]:
        keys = self.server.broker.runtime.keys
        keys.active()  # never an empty set (no token issued yet): a hint then fails to verify
        return keys.jwks()

    def end_session(self, end_session_request: Any) -> None:
        """Nothing here: see ``views/broker.py``."""
