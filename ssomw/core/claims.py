"""Who a sign-in is: the username and e-mail a provider's claims may vouch for.

OIDC Core §5.7: "The sub (subject) and iss (issuer) Claims, used together, are the only Claims
that an RP can rely upon as a stable identifier for the End-User", and ``preferred_username``
"MUST NOT" be relied on as unique. A username or e-mail taken from any configured provider
would let whoever can edit that claim at the weakest provider become someone else (their
groups, their LDAP entry, their place in ``allowed_email_domains``). So:

* the username is the provider's name claim only where the operator declares the provider
  authoritative for usernames (``providers[].authoritative: [username]``); otherwise it is
  ``<sub>@<provider id>``, unique by construction;
* the e-mail counts (domain checks, directory lookups, the e-mail header) only when the provider
  is authoritative for e-mail or says ``email_verified: true``; otherwise it is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

AUTHORITATIVE_FOR = ("username", "email")


@dataclass(frozen=True)
class ClaimRules:
    """One provider's claim names and what it is trusted to decide."""

    provider: str
    username: str = "preferred_username"
    email: str = "email"
    name: str = "name"
    groups: str = "groups"
    authoritative: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, provider_id: str, settings: Mapping[str, Any]) -> ClaimRules:
        names = settings.get("claims") or {}
        return cls(provider=provider_id,
                   username=names.get("username", "preferred_username"),
                   email=names.get("email", "email"), name=names.get("name", "name"),
                   groups=names.get("groups", "groups"),
                   authoritative=frozenset(settings.get("authoritative") or ()))


@dataclass(frozen=True)
class SignedIn:
    """What the gateway believes about a verified sign-in."""

    user: str                        # the stable name apps and the store key on
    sub: str
    name_is_authoritative: bool      # the user is the provider's name claim (directory lookups)
    email: str | None                # only a trusted address, else None
    display_name: str | None
    preferred_username: str | None   # the raw claim, for display only: never an identity
    groups: tuple[str, ...]          # the provider's groups claim, cleaned


def scoped_name(sub: str, provider: str) -> str:
    """The username of a provider that is not authoritative for names."""
    return f"{sub}@{provider}"


def signed_in(rules: ClaimRules, claims: Mapping[str, Any]) -> SignedIn | None:
    """The identity in verified ``claims`` (ID token + userinfo), or None without a ``sub``."""

    def text(claim: str) -> str | None:
        value = claims.get(claim)
        return value if isinstance(value, str) and value and value.isprintable() else None

    sub = text("sub")
    if sub is None:
        return None
    claimed_name = text(rules.username)
    authoritative_name = "username" in rules.authoritative and claimed_name is not None
    email = text(rules.email)
    if email is not None and not ("email" in rules.authoritative
                                  or claims.get("email_verified") is True):
        email = None
    raw_groups = claims.get(rules.groups, [])
    if isinstance(raw_groups, str):
        raw_groups = [raw_groups]
    groups = tuple(sorted({g for g in raw_groups if isinstance(g, str) and g})) \
        if isinstance(raw_groups, list) else ()
    return SignedIn(
        user=claimed_name if authoritative_name and claimed_name else scoped_name(
            sub, rules.provider),
        sub=sub, name_is_authoritative=authoritative_name, email=email,
        display_name=text(rules.name), preferred_username=text("preferred_username"),
        groups=groups)


def sign_in_level(claims: Mapping[str, Any]) -> dict[str, Any]:
    """``acr``, ``amr`` and ``auth_time`` of a verified ID token, kept in the session so every
    app's requirement can be checked on every request."""
    acr, amr, auth_time = claims.get("acr"), claims.get("amr"), claims.get("auth_time")
    return {"acr": acr if isinstance(acr, str) else None,
            "amr": [m for m in amr if isinstance(m, str)] if isinstance(amr, list) else None,
            "auth_time": float(auth_time) if isinstance(auth_time, (int, float))
            and not isinstance(auth_time, bool) else None}
