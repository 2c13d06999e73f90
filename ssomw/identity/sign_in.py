"""From a verified provider response to an SSO session: who it is, may they, which groups.

Runs after the ID token and userinfo were verified (``oidc/client.py``). Every refusal raises
:class:`SignInError` with the error page's code; a success is a new session under a brand-new
id, replacing the session this browser held before (a step-up or another user).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ssomw.config import Config
from ssomw.core.assurance import Assurance, Identity
from ssomw.core.claims import ClaimRules, sign_in_level, signed_in
from ssomw.identity.users import Identities
from ssomw.oidc.client import SignInError, SignInResult
from ssomw.oidc.flow import PendingLogin
from ssomw.oidc.provider import Provider
from ssomw.session.manager import Sessions
from ssomw.store.base import SessionRecord, StoreUnavailable
from ssomw.telemetry import audit, metrics

log = logging.getLogger("ssomw.login")


@dataclass(frozen=True)
class SignedInSession:
    record: SessionRecord
    cookie: str
    replaced: bool


class SignIns:
    def __init__(self, config: Config, identities: Identities, sessions: Sessions,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.identities = identities
        self.sessions = sessions
        self.clock = clock

    def complete(self, provider: Provider, result: SignInResult, pending: PendingLogin,
                 browser_cookie: str | None, address: str | None) -> SignedInSession:
        """The new session for a verified sign-in, or :class:`SignInError`."""
        who = signed_in(ClaimRules.from_settings(provider.id, provider.settings), result.claims)
        if who is None:
            raise SignInError("INVALID_RESPONSE", "no usable sub claim")
        if not self.config.routing.email_allowed(who.email):
            raise SignInError("DOMAIN_NOT_ALLOWED", f"{who.user!r}: e-mail domain not allowed "
                              "(or the address is not verified)")
        level = sign_in_level(result.claims)
        shortfall = self.level_shortfall(pending, provider.id, level)
        if shortfall is not None:
            raise SignInError("AUTH_LEVEL_NOT_MET", f"{who.user!r} for app {pending.app}: "
                              f"{shortfall}")
        groups, profile = self.identities.at_sign_in(who, provider.id, result.claims)
        data = {"email": who.email, "name": who.display_name,
                "preferred_username": who.preferred_username, "groups": groups,
                "profile": profile, "id_token": result.id_token, "auth_method": "oidc",
                "nonce": pending.nonce, "tokens": self.token_data(result), **level}
        sid = result.claims.get("sid")
        replaced = self.end_browser_session(browser_cookie)
        record, cookie = self.sessions.create(
            user=who.user, provider=provider.id, sub=who.sub,
            sid=sid if isinstance(sid, str) else None, data=data)
        log.info("signed in %r via %s%s", who.user, provider.id,
                 " (replacing this browser's previous session)" if replaced else "")
        metrics.sign_in(provider.id, "success")
        audit.record(self.sessions.store, "sign_in", outcome="success", user=who.user,
                     provider=provider.id, address=address, session=record.id[:8])
        return SignedInSession(record, cookie, replaced)

    def level_shortfall(self, pending: PendingLogin, provider_id: str,
                        level: dict[str, Any]) -> str | None:
        """Why a fresh sign-in still falls short of what its return address needs (the app's
        requirement and its rule's), or None. Refusing here (rather than at the app) keeps a
        provider that ignores the request from looping: it gets AUTH_LEVEL_NOT_MET, and the
        browser's old session stays as it was."""
        needs = Assurance.from_dict(pending.requires)
        if needs is None and pending.app:  # a flow started before requirements were recorded
            app = self.config.policy.app_by_id(pending.app)
            needs = app.assurance if app is not None else None
        if needs is None:
            return None
        identity = Identity(user="", provider=provider_id, groups=frozenset(),
                            acr=level["acr"], auth_time=level["auth_time"])
        return needs.shortfall(identity, self.clock())

    def end_browser_session(self, cookie: str | None) -> bool:
        """End the session this browser holds, if any: a sign-in replaces it everywhere, so
        the old cookie value is worth nothing even to whoever copied it."""
        try:
            old = self.sessions.load(cookie)
            return old is not None and self.sessions.end(old.id)
        except StoreUnavailable:
            return False

    def token_data(self, result: SignInResult) -> dict[str, Any] | None:
        """Provider tokens kept for refreshing, only when ``session.refresh_tokens`` is on."""
        if not self.config["session"]["refresh_tokens"] or not result.refresh_token:
            return None
        return {"access_token": result.access_token, "refresh_token": result.refresh_token,
                "expires_at": result.expires_at}

    def failed(self, provider_id: str, code: str, address: str | None) -> None:
        """Count and audit a refused sign-in (the caller shows the error page)."""
        metrics.sign_in(provider_id, code)
        audit.record(self.sessions.store, "sign_in", outcome="failure", provider=provider_id,
                     reason=code, address=address)
