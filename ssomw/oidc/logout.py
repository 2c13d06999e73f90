"""Ending sessions: the one place that turns a logout signal into deleted sessions.

Used by the back-channel and front-channel endpoints, the CLI and (later) the admin API. Every
path goes through the store, so a logout on one gateway instance holds on every instance at once.
Also the sign-out form's CSRF token (:func:`logout_csrf`), which the logout view checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from ssomw.oidc import RuntimeParts
from ssomw.oidc.errors import TokenError
from ssomw.oidc.logout_token import validate_logout_token
from ssomw.oidc.provider import Provider, ProviderUnavailable
from ssomw.oidc.tokens import unverified_issuer
from ssomw.store.base import SessionRecord
from ssomw.telemetry import audit, metrics

log = logging.getLogger("ssomw.logout")
MAX_LOGOUT_TOKEN = 16 * 1024


def logout_csrf(secret_keys: Sequence[str], session_id: str) -> str:
    """The sign-out form's token: HMAC-SHA256 over ("logout", session id) with the first key.

    Stateless, so a page with a sign-out button writes nothing to the store; bound to the
    session, so another site cannot know it (it never sees the session id)."""
    return _logout_mac(secret_keys[0], session_id)


def logout_csrf_ok(secret_keys: Sequence[str], session_id: str, token: str) -> bool:
    """True if ``token`` is this session's sign-out token under any key (rotation)."""
    sent = token.encode()
    return any([hmac.compare_digest(_logout_mac(key, session_id).encode(), sent)
                for key in secret_keys])


def logout_redirects(runtime: RuntimeParts, provider_id: str, rd: str | None) -> list[str]:
    """Where the answer to a sign-out POST may send the browser: the provider's end-session
    endpoint and ``rd`` (already validated). A page's ``form-action`` must allow them."""
    targets = [rd] if rd else []
    provider = runtime.providers.get(provider_id)
    if provider is not None and provider.settings["logout"]["rp_initiated"]:
        try:
            targets.append(provider.endpoint("end_session_endpoint") or "")
        except ProviderUnavailable:
            pass  # the sign-out then stays local and ends on our own page
    return targets


def asked_for(secret_keys: Sequence[str], record: SessionRecord, *, posted_token: str | None,
              id_token_hint: str) -> bool:
    """Did the user ask for this sign-out? The form's token in a POST (``posted_token``), or
    the session's own ID token as ``id_token_hint``, both compared in constant time."""
    if posted_token is not None and logout_csrf_ok(secret_keys, record.id, posted_token):
        return True
    id_token = record.data.get("id_token")
    return bool(id_token_hint and isinstance(id_token, str)) and hmac.compare_digest(
        id_token_hint.encode(), id_token.encode())


def end_local(runtime: RuntimeParts, record: SessionRecord, address: str | None) -> bool:
    """End one session here (every app at once, every instance), counted and audited."""
    ended = runtime.sessions.end(record.id)
    if ended:
        metrics.logout("rp")
        audit.record(runtime.store, "logout", kind="rp", user=record.user,
                     provider=record.provider, address=address)
    log.info("signed out %r (session ended locally)", record.user)
    return ended


def end_session_url(provider: Provider | None, return_to: str, id_token: str | None,
                    state: str) -> str | None:
    """RP-Initiated Logout 1.0: the provider's end-session URL with ``id_token_hint``,
    ``post_logout_redirect_uri`` (``return_to``) and ``state``, or None when the provider has
    none or has it turned off.

    Raises ProviderUnavailable when the provider does not answer right now (the probe sign-in
    uses, :meth:`Provider.ensure_reachable`): a browser sent there would see a network error
    page instead of being told it is signed out. The local logout has already happened."""
    if provider is None or not provider.settings["logout"]["rp_initiated"]:
        return None
    endpoint = provider.endpoint("end_session_endpoint")
    if not endpoint:
        return None
    provider.ensure_reachable()
    params = {"post_logout_redirect_uri": return_to, "state": state,
              "client_id": provider.settings["client_id"]}
    if id_token:
        params["id_token_hint"] = id_token
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(params)}"


def _logout_mac(key: str, session_id: str) -> str:
    mac = hmac.new(key.encode(), b"logout\0" + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@dataclass(frozen=True)
class LogoutResult:
    provider: str
    ended: int


def end_provider_sessions(runtime: RuntimeParts, provider: str, sid: str | None,
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


def provider_for_issuer(runtime: RuntimeParts, issuer: str | None) -> Provider | None:
    for provider in runtime.providers:
        if issuer is not None and provider.settings["issuer"] == issuer:
            return provider
    return None


def backchannel_logout(runtime: RuntimeParts, token: object) -> LogoutResult:
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


def frontchannel_logout(runtime: RuntimeParts, issuer: str | None, sid: str | None,
                        session_id: str | None = None) -> LogoutResult | None:
    """Front-Channel Logout 1.0 §2: end the session(s) of ``sid`` at the provider ``iss``.

    The request comes from a browser (an iframe in the provider's logout page), so when it
    carries a valid session cookie (``session_id``, signature already checked) only that
    browser's session ends, and only if it belongs to the ``iss`` provider and carries this
    ``sid``: another page cannot end someone else's session through this browser. Without a
    cookie — browsers often withhold cookies from a cross-site iframe (§4.1) — every session
    with that ``sid`` ends, as the spec's ``iss``/``sid`` pair names them; knowing the ``sid``
    is then the only proof, so the trade-off is documented in the README.

    Returns None (and ends nothing) for an unknown issuer, a provider without front-channel
    logout, or a missing sid.
    """
    provider = provider_for_issuer(runtime, issuer)
    if provider is None or not provider.settings["logout"]["frontchannel"] or not sid:
        return None
    sid = sid[:512]
    if session_id is None:
        ended = end_provider_sessions(runtime, provider.id, sid, None)
    else:
        record = runtime.store.get_session(session_id)
        named = (record is not None and record.provider == provider.id
                 and record.sid is not None
                 and hmac.compare_digest(record.sid.encode(), sid.encode()))
        ended = runtime.store.delete_sessions([session_id]) if named else 0
    log.info("front-channel logout from %s ended %d session(s)%s", provider.id, ended,
             " (the browser's own)" if session_id else "")
    metrics.logout("frontchannel", ended)
    audit.record(runtime.store, "logout", kind="frontchannel", provider=provider.id,
                 ended=ended, by_cookie=session_id is not None)
    return LogoutResult(provider.id, ended)
