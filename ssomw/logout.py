"""Ending sessions: the one place that turns a logout signal into deleted sessions.

Used by the back-channel and front-channel endpoints, the CLI and (later) the admin API. Every
path goes through the store, so a logout on one gateway instance holds on every instance at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from . import audit, metrics
from .oidc.errors import TokenError
from .oidc.logout_token import validate_logout_token
from .oidc.provider import Provider, ProviderUnavailable
from .oidc.tokens import unverified_issuer
from .runtime import Runtime

log = logging.getLogger("ssomw.logout")
MAX_LOGOUT_TOKEN = 16 * 1024


@dataclass(frozen=True)
class LogoutResult:
    provider: str
    ended: int


def end_provider_sessions(runtime: Runtime, provider: str, sid: str | None,
                          sub: str | None) -> int:
    """End every session with this provider ``sid``, or every session of ``sub`` without one.

    Back-Channel Logout 1.0 §2.7: with a ``sid``, the RP logs out that session; with only
    ``sub``, all of the user's sessions at this provider. When both are given, only sessions
    matching both are ended (a token's sid names one login of that subject).
    """
    store = runtime.store
    if sid:
        records = [r for r in store.sessions_by_sid(provider, sid) if not sub or r.sub == sub]
    elif sub:
        records = store.sessions_by_sub(provider, sub)
    else:
        return 0
    return store.delete_sessions(r.id for r in records)


def provider_for_issuer(runtime: Runtime, issuer: str | None) -> Provider | None:
    for provider in runtime.providers:
        if issuer is not None and provider.settings["issuer"] == issuer:
            return provider
    return None


def backchannel_logout(runtime: Runtime, token: object) -> LogoutResult:
    """Validate a logout token (every §2.6 rule) and end the sessions it names.

    Raises TokenError for any invalid token; nothing is ended then.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_LOGOUT_TOKEN:
        raise TokenError("malformed")
    provider = provider_for_issuer(runtime, unverified_issuer(token))
    if provider is None:
        raise TokenError("iss_mismatch")
    if not provider.settings["logout"]["backchannel"]:
        raise TokenError("backchannel_disabled", "back-channel logout is off for this provider")

    def seen(jti: str, until: float) -> bool:
        ttl = max(1.0, until - runtime.sessions.clock())
        return not runtime.store.kv_add("logout-jti", f"{provider.id}:{jti}", b"1", ttl)

    try:
        claims = validate_logout_token(token, provider.token_policy(), provider.jwks(), seen)
    except ProviderUnavailable as exc:
        raise TokenError("jwks_unavailable") from exc
    sid, sub = claims.get("sid"), claims.get("sub")
    ended = end_provider_sessions(runtime, provider.id, sid if isinstance(sid, str) else None,
                                  sub if isinstance(sub, str) else None)
    log.info("back-channel logout from %s ended %d session(s)", provider.id, ended)
    metrics.logout("backchannel", ended)
    audit.record(runtime.store, "logout", kind="backchannel", provider=provider.id,
                 by_sid=isinstance(sid, str), ended=ended)
    return LogoutResult(provider.id, ended)


def frontchannel_logout(runtime: Runtime, issuer: str | None,
                        sid: str | None) -> LogoutResult | None:
    """Front-Channel Logout 1.0 §2: end the sessions of ``sid`` at the provider ``iss``.

    Returns None (and ends nothing) for an unknown issuer, a provider without front-channel
    logout, or a missing sid.
    """
    provider = provider_for_issuer(runtime, issuer)
    if provider is None or not provider.settings["logout"]["frontchannel"] or not sid:
        return None
    ended = end_provider_sessions(runtime, provider.id, sid[:512], None)
    log.info("front-channel logout from %s ended %d session(s)", provider.id, ended)
    metrics.logout("frontchannel", ended)
    audit.record(runtime.store, "logout", kind="frontchannel", provider=provider.id,
                 ended=ended)
    return LogoutResult(provider.id, ended)
