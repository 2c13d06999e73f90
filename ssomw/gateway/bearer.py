"""Who a bearer token is, per app (contract §7), cached per token until it expires.

A JWT whose ``iss`` is one of the app's bearer providers is validated locally
(``oidc/access_tokens.py``); any other token is asked about at those providers' introspection
endpoints when the app allows it. A token that is neither is *not ours*: the app may take it as
its own credential (``passthrough: [token]``, e.g. a Jira personal access token). A good token
becomes an identity through the same claim rules, group pipeline and profile as a browser
sign-in, without writing the user's record (a token is not a sign-in).

Answers are kept per (app, token) in a bounded memo: a good one until the token expires (an
introspected one 60 s at most), a refused one for a few seconds, so a flood of one forged token
costs one signature check, while a provider's key rotation is still picked up quickly.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ssomw.core.apps import Api, App
from ssomw.core.assurance import Identity
from ssomw.core.claims import ClaimRules, signed_in
from ssomw.core.memo import Memo
from ssomw.identity.users import Identities
from ssomw.oidc.access_tokens import (
    Expectations,
    check_introspection,
    client_of,
    is_client_token,
    validate_access_token,
)
from ssomw.oidc.errors import TokenError
from ssomw.oidc.introspection import introspect
from ssomw.oidc.provider import Provider, Providers, ProviderUnavailable
from ssomw.oidc.tokens import unverified_issuer

log = logging.getLogger("ssomw.bearer")
INTROSPECTION_TTL = 60.0
REFUSAL_TTL = 5.0


@dataclass(frozen=True)
class Verdict:
    """``ok`` (identity + attributes), ``refused`` (reason: a TokenError code), ``unavailable``
    (a provider did not answer), or ``not_ours`` (no accepted provider knows the token)."""

    kind: str
    until: float
    identity: Identity | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    via: str = "jwt"  # or "introspection"


class Bearers:
    def __init__(self, providers: Providers, identities: Identities,
                 clock: Callable[[], float]) -> None:
        self.providers = providers
        self.identities = identities
        self.clock = clock
        self._answers: Memo[tuple[str, bytes], Verdict] = Memo(4096)

    def judge(self, app: App, api: Api, token: str) -> Verdict:
        now = self.clock()
        key = (app.id, hashlib.sha256(token.encode()).digest())
        cached = self._answers.get(key)
        if cached is not None and now < cached.until:
            return cached
        verdict = self._judge(api, token, now)
        if verdict.kind != "unavailable":
            self._answers.put(key, verdict)
        return verdict

    def _judge(self, api: Api, token: str, now: float) -> Verdict:
        accepted = [p for p in map(self.providers.get, api.bearer_providers) if p is not None]
        issuer = unverified_issuer(token)
        if issuer is not None:
            provider = next((p for p in accepted if p.settings["issuer"] == issuer), None)
            if provider is not None:
                return self._jwt(provider, api, token, now)
        if api.introspection:
            return self._introspected(accepted, api, token, now)
        return Verdict("not_ours", now + REFUSAL_TTL)

    def _jwt(self, provider: Provider, api: Api, token: str, now: float) -> Verdict:
        try:
            claims = validate_access_token(token, provider.token_policy(), provider.jwks(),
                                           self.expectations(provider, api), now)
        except TokenError as exc:
            return Verdict("refused", now + REFUSAL_TTL, reason=exc.code)
        except ProviderUnavailable as exc:
            log.warning("bearer token from %s not checked: %s", provider.id, exc)
            return Verdict("unavailable", now)
        exp = claims.get("exp")
        until = float(exp) if isinstance(exp, (int, float)) else now + INTROSPECTION_TTL
        return self._identity(provider, claims, until, "jwt")

    def _introspected(self, accepted: list[Provider], api: Api, token: str,
                      now: float) -> Verdict:
        """Each accepted provider in turn; the first that calls the token active owns it.
        A provider that does not answer makes the verdict ``unavailable`` (503): the gateway
        cannot tell a good token from a bad one then, and never guesses."""
        refused = ""
        for provider in accepted:
            try:
                answer = introspect(provider, token)
                claims = check_introspection(answer, provider.token_policy(),
                                             self.expectations(provider, api), now)
            except ProviderUnavailable as exc:
                log.warning("introspection at %s failed: %s", provider.id, exc)
                return Verdict("unavailable", now)
            except TokenError as exc:
                if exc.code != "inactive":
                    refused = exc.code
                continue
            exp = claims.get("exp")
            until = min(float(exp), now + INTROSPECTION_TTL) \
                if isinstance(exp, (int, float)) else now + INTROSPECTION_TTL
            return self._identity(provider, claims, until, "introspection")
        if refused:  # active, but not for this app (audience, scope)
            return Verdict("refused", now + REFUSAL_TTL, reason=refused)
        return Verdict("not_ours", now + REFUSAL_TTL)

    @staticmethod
    def expectations(provider: Provider, api: Api) -> Expectations:
        audiences = api.audiences or (provider.settings["client_id"],)
        return Expectations(frozenset(audiences), api.scopes)

    def _identity(self, provider: Provider, claims: dict[str, Any], until: float,
                  via: str) -> Verdict:
        """The token's holder: a user through the same rules as a sign-in, or
        ``client:<client_id>`` for a token with no user behind it."""
        if is_client_token(claims):
            user = f"client:{client_of(claims) or claims.get('sub') or 'unknown'}"
            identity = Identity(user, provider.id, frozenset())
            attributes = {"user": user, "provider": provider.id, "auth_method": "bearer",
                          "groups": []}
            return Verdict("ok", until, identity, attributes, via=via)
        who = signed_in(ClaimRules.from_settings(provider.id, provider.settings), claims)
        if who is None:
            return Verdict("refused", until, reason="sub_missing")
        groups, profile = self.identities.at_sign_in(who, provider.id, claims, save=False)
        identity = Identity(who.user, provider.id, frozenset(groups))
        attributes = {
            **{f"profile.{k}": v for k, v in profile.items()},
            "user": who.user, "email": who.email, "name": who.display_name,
            "preferred_username": who.preferred_username, "groups": sorted(groups),
            "provider": provider.id, "auth_method": "bearer"}
        return Verdict("ok", until, identity, attributes, via=via)
