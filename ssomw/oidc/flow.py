"""The browser's pending sign-in: a typed record kept between ``/login`` and ``/callback``.

While the user is at the provider, the gateway remembers per ``state`` what it sent (nonce,
PKCE verifier, redirect URI), where to return and what the sign-in is for (the app, its
``acr_values``/``max_age``). The records live in the Flask-Session flow session of that
browser (several tabs may sign in at once, at most :data:`MAX_PENDING`), and each is used once.

``response_mode=form_post`` adds a server-side mark per pending ``state`` (a hash, so listing
the store yields nothing to post), because the provider's cross-site POST carries no cookie.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

FLOW_LIFETIME = 600.0     # seconds a sign-in may take at the provider
MAX_PENDING = 5           # pending sign-ins per browser; the oldest give way
FORM_POST_PENDING = "form-post-pending"   # store namespace: pending form_post states (hashed)
FORM_POST_PARKED = "form-post"            # store namespace: parked form_post responses
FORM_POST_CAPS = {"code": 2048, "state": 2048, "iss": 2048, "error": 256,
                  "error_description": 512}
FORM_POST_MAX_BODY = 16 * 1024
FORM_POST_MAX_PARKED = 6 * 1024


@dataclass(frozen=True)
class PendingLogin:
    provider: str
    nonce: str
    code_verifier: str | None
    rd: str                      # validated return address
    redirect_uri: str
    started: float
    acr_values: str | None = None
    max_age: str | None = None
    app: str | None = None       # the app the sign-in is for (its requirement is checked)
    # The sign-in requirement of the return address (the app's and its rule's: step-up), as
    # ``Assurance.as_dict``; None: none, or a flow started before rules had requirements.
    requires: dict[str, Any] | None = None

    def expired(self, now: float) -> bool:
        return now - self.started > FLOW_LIFETIME

    def essential_acr(self, acr_essential: bool) -> tuple[str, ...] | None:
        """The requested ``acr_values`` when the provider treats them as essential."""
        return tuple(self.acr_values.split()) if self.acr_values and acr_essential else None

    def max_age_seconds(self) -> float | None:
        return float(self.max_age) if str(self.max_age or "").isdigit() else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingLogin | None:
        """A record as stored, or None for anything else (an older layout, tampering)."""
        try:
            return cls(**data)
        except TypeError:
            return None


class PendingLogins:
    """The pending sign-ins of one browser, kept in its flow session (a mutable mapping)."""

    KEY = "pending_logins"

    def __init__(self, flow_session: MutableMapping[str, Any]) -> None:
        self.flow_session = flow_session

    def add(self, state: str, pending: PendingLogin) -> None:
        records = dict(self.flow_session.get(self.KEY, {}))
        oldest_first = sorted(records, key=lambda s: records[s].get("started", 0))
        for stale in oldest_first[: max(0, len(records) - MAX_PENDING + 1)]:
            del records[stale]
        records[state] = asdict(pending)
        self.flow_session[self.KEY] = records

    def pop(self, state: str) -> PendingLogin | None:
        records = dict(self.flow_session.get(self.KEY, {}))
        raw = records.pop(state, None)
        self.flow_session[self.KEY] = records
        return PendingLogin.from_dict(raw) if isinstance(raw, dict) else None


def authorization_params(provider_settings: Mapping[str, Any], app_params: Mapping[str, str],
                         hint: str | None) -> dict[str, str]:
    """The extra authorization parameters: the provider's, the app's on top, the hint."""
    params = {**provider_settings["auth_params"], **app_params}
    if hint:
        params["login_hint"] = hint
    if provider_settings["response_mode"] == "form_post":
        params["response_mode"] = "form_post"
    return params


def form_post_key(state: str) -> str:
    """The store key of a pending form_post flow: a hash of its ``state``."""
    return hashlib.sha256(state.encode()).hexdigest()


def form_post_fields(form: Any) -> dict[str, str] | None:
    """The authorization response a provider posted (a werkzeug MultiDict), or None when a
    field is repeated, over its cap or not printable ASCII (RFC 6749 §4.1.2, §5.2: every one
    of these is ASCII), or ``state`` is missing."""
    fields = {}
    for name, cap in FORM_POST_CAPS.items():
        values = form.getlist(name)
        if len(values) > 1 or any(len(v) > cap or not (v.isascii() and v.isprintable())
                                  for v in values):
            return None
        if values:
            fields[name] = values[0]
    return fields if fields.get("state") else None
