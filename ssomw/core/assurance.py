"""Who a session is, and how strong and recent a sign-in must be (step-up, contract §4.4).

:class:`Identity` is what a decision needs to know about a session's user; :class:`Assurance`
is an ``acr``/``max_age`` requirement (an app's ``auth_params`` and a rule's ``acr``/``max_age``),
checked on every decision and turned into the authorization parameters that ask the provider
for a stronger or fresher sign-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Sessions from the emergency login: the break-glass way in when providers fail, valid for
# every app whatever its ``providers`` (groups and rules still apply).
EMERGENCY_PROVIDER = "emergency"


@dataclass(frozen=True)
class Identity:
    user: str
    provider: str
    groups: frozenset[str]
    acr: str | None = None           # from the ID token: how the user signed in
    auth_time: float | None = None   # from the ID token: when the user last signed in


@dataclass(frozen=True)
class Assurance:
    """How strong and how recent a sign-in must be: ``acr`` (one of these values) and
    ``max_age`` (seconds since ``auth_time``). Checked on every decision, since one session
    serves every app: a session made for an app without requirements must not pass at an app
    with them."""

    acr: frozenset[str] | None = None
    max_age: float | None = None

    def __post_init__(self) -> None:
        if self.acr is None and self.max_age is None:
            raise ValueError("an Assurance needs acr or max_age")

    def shortfall(self, identity: Identity, now: float | None) -> str | None:
        """Why ``identity`` falls short, or None. Without ``now`` an age cannot be checked and
        counts as too old (fail closed). Emergency sessions pass: they are the way in when the
        provider that could raise the level is down."""
        if identity.provider == EMERGENCY_PROVIDER:
            return None
        if self.acr is not None and identity.acr not in self.acr:
            return f"acr {identity.acr or 'none'} is not one of {', '.join(sorted(self.acr))}"
        if self.max_age is not None and (
                now is None or identity.auth_time is None
                or now - identity.auth_time > self.max_age):
            return f"the sign-in is older than max_age {self.max_age:g}s"
        return None

    def asks_again(self, identity: Identity, now: float) -> bool:
        """Whether a sign-in for this requirement must make the provider ask for credentials
        again (``prompt=login``): the session's acr is too weak, or its known sign-in too old.
        A session whose provider sent no ``auth_time`` (providers send it unasked only
        sometimes) is not known to be old: ``max_age`` alone lets the provider judge, and its
        answer must then carry an ``auth_time`` that is recent enough."""
        if self.shortfall(identity, now) is None:
            return False
        if self.acr is not None and identity.acr not in self.acr:
            return True
        return identity.auth_time is not None

    @classmethod
    def from_auth_params(cls, params: Mapping[str, Any]) -> Assurance | None:
        """An app's ``auth_params`` ``acr_values``/``max_age`` as a requirement (or None)."""
        acr = str(params.get("acr_values") or "").split()
        max_age = str(params.get("max_age") or "").strip()
        if not acr and not max_age.isdigit():
            return None
        return cls(frozenset(acr) or None, float(max_age) if max_age.isdigit() else None)

    def combine(self, other: Assurance | None) -> Assurance:
        """Both requirements at once: an ``acr`` both accept (the values they share; none
        shared means no sign-in can pass) and the shorter ``max_age``."""
        if other is None:
            return self
        if self.acr is None or other.acr is None:
            acr = self.acr if other.acr is None else other.acr
        else:
            acr = self.acr & other.acr
        ages = [age for age in (self.max_age, other.max_age) if age is not None]
        return Assurance(acr, min(ages) if ages else None)

    def auth_params(self) -> dict[str, str]:
        """The authorization parameters that ask the provider for this (``acr_values``,
        ``max_age``); ``prompt=login`` is added by the caller when a session falls short."""
        params = {}
        if self.acr:
            params["acr_values"] = " ".join(sorted(self.acr))
        if self.max_age is not None:
            params["max_age"] = str(int(self.max_age))
        return params

    def describe(self) -> str:
        """In words, for explain and logs: ``acr one of urn:mfa; max_age 300s``."""
        parts = []
        if self.acr is not None:
            parts.append(f"acr one of {', '.join(sorted(self.acr)) or '(none: unsatisfiable)'}")
        if self.max_age is not None:
            parts.append(f"max_age {self.max_age:g}s")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"acr": sorted(self.acr) if self.acr is not None else None,
                "max_age": self.max_age}

    @classmethod
    def from_dict(cls, data: object) -> Assurance | None:
        """The inverse of :meth:`as_dict` (None for anything else: no requirement recorded)."""
        if not isinstance(data, Mapping):
            return None
        acr, max_age = data.get("acr"), data.get("max_age")
        acr_set = frozenset(str(a) for a in acr) if isinstance(acr, list) else None
        age = float(max_age) if isinstance(max_age, (int, float)) else None
        return cls(acr_set, age) if acr_set is not None or age is not None else None
