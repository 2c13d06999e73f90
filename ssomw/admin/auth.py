"""Who may call the admin API: network first, then throttling, then the bearer token, then scope.

Order matters and every step answers on its own:

1. the client address (``REMOTE_ADDR``, already resolved through ``server.trusted_proxies``)
   must be in ``admin.allow_from``, else **403** before anything else is looked at;
2. an address with too many wrong tokens is refused (**429** with ``Retry-After``) without the
   token being checked — the right one too;
3. no ``Authorization: Bearer`` → **401**; a wrong token → **401** (``error="invalid_token"``),
   counted against the address and audited (``admin_auth_failure``);
4. a valid token without the scope → **403** (``error="insufficient_scope"``, RFC 6750 §3.1).

Throttle settings: a token is 256 random bits, so growing delays would buy nothing against
guessing and would only slow a client that fixed its typo; what matters is bounding noise, so
:data:`THROTTLE` locks an address out after 20 wrong tokens in 15 minutes. A missing token
is not an attempt (browsers, health probes) and is not counted.

Successful use is audited (``admin_token_used``) at most once per token per minute: the
changes themselves are audited with the token's name, so this event only has to show that a
token is in use and from where, not repeat every read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ssomw.admin.service import AdminError
from ssomw.admin.tokens import Principal, Tokens
from ssomw.core.networks import in_networks, parse_address
from ssomw.core.throttle import Throttle, ThrottleSettings
from ssomw.gateway.runtime import Runtime
from ssomw.telemetry import audit

THROTTLE = ThrottleSettings(max_failures=20, window=900.0, lockout=900.0,
                            base_delay=0.0, max_delay=0.0)
KEY_PREFIX = "admin-addr:"
REALM = 'Bearer realm="ssomw-admin"'


@dataclass(frozen=True)
class Request:
    """What authentication needs from an HTTP request (kept free of Flask for testing)."""

    address: str
    authorization: str | None
    method: str
    path: str


def tokens_for(runtime: Runtime) -> Tokens:
    return Tokens(runtime.store, runtime.config["admin"]["tokens"])


def allowed_networks(runtime: Runtime) -> tuple:
    return runtime.admin_networks


def authenticate(runtime: Runtime, request: Request, scope: str | None,
                 clock=time.time) -> Principal:
    """The caller's principal, or :class:`AdminError` (403 network, 429, 401, 403 scope)."""
    address = parse_address(request.address or "")
    if address is None or not in_networks(address, allowed_networks(runtime)):
        raise AdminError(403, "forbidden_network", "the admin API is not reachable from this "
                         "address (admin.allow_from)")
    throttle = Throttle(runtime.store, THROTTLE, clock)
    keys = [f"{KEY_PREFIX}{address}"]
    if throttle.check(keys).refused:
        raise AdminError(429, "too_many_attempts", "too many wrong tokens from this address; "
                         "try again later", headers={"Retry-After": str(int(THROTTLE.lockout))})
    token = bearer(request.authorization)
    if token is None:
        raise AdminError(401, "unauthorized", "send Authorization: Bearer <token>",
                         headers={"WWW-Authenticate": REALM})
    tokens = tokens_for(runtime)
    principal = tokens.verify(token)
    if principal is None:
        throttle.failed(keys)
        audit.record(runtime.store, "admin_auth_failure", client_ip=str(address),
                     method=request.method, path=request.path, reason="invalid token")
        raise AdminError(401, "invalid_token", "the token is unknown or revoked",
                         headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    if scope is not None and not principal.has(scope):
        raise insufficient_scope(scope)
    if tokens.seen(principal.name):
        audit.record(runtime.store, "admin_token_used", name=principal.name,
                     source=principal.source, client_ip=str(address), method=request.method,
                     path=request.path)
    return principal


def insufficient_scope(scope: str, why: str = "this call") -> AdminError:
    """The 403 for a token without ``scope`` (RFC 6750 §3.1), the same for every route."""
    return AdminError(403, "insufficient_scope", f"{why} needs the scope {scope}",
                      headers={"WWW-Authenticate":
                               f'{REALM}, error="insufficient_scope", scope="{scope}"'})


def bearer(header: str | None) -> str | None:
    """The token from ``Authorization: Bearer <token>`` (scheme case-insensitive), or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
