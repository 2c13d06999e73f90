"""Server-side SSO sessions: creation with a fresh id, validation, coarse touching, ending.

The hot path (``load``) does one store read. ``last_seen`` is written at most once per
``touch_interval``, because a write on every auth request shows up as p99 latency under load
while idle timeouts only need minute-level precision.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ssomw.core.assurance import Identity
from ssomw.session.cookies import CookieCodec
from ssomw.store.base import SessionRecord, Store
from ssomw.telemetry import metrics


@dataclass(frozen=True)
class SessionSettings:
    name: str
    domain: str | None
    secure: bool
    samesite: str
    idle_timeout: float
    max_lifetime: float
    secret_keys: tuple[str, ...]

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> SessionSettings:
        return cls(
            name=section["name"], domain=section.get("domain"), secure=section["secure"],
            samesite=section["samesite"], idle_timeout=section["idle_timeout"],
            max_lifetime=section["max_lifetime"], secret_keys=tuple(section["secret_keys"]),
        )

    @property
    def touch_interval(self) -> float:
        return min(60.0, self.idle_timeout / 4)


class Sessions:
    def __init__(self, store: Store, settings: SessionSettings,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.settings = settings
        self.codec = CookieCodec(settings.secret_keys)
        self.clock = clock

    def create(self, *, user: str, provider: str, sub: str, sid: str | None,
               data: dict[str, Any], max_lifetime: float | None = None,
               ) -> tuple[SessionRecord, str]:
        """A new session with a new random id (never reuses one: no fixation)."""
        now = self.clock()
        lifetime = min(max_lifetime or self.settings.max_lifetime, self.settings.max_lifetime)
        record = SessionRecord(
            id=secrets.token_urlsafe(32), user=user, provider=provider, sub=sub, sid=sid,
            created=now, last_seen=now, expires=now + lifetime, data=data,
        )
        self.store.put_session(record, self.settings.idle_timeout)
        return record, self.codec.dumps(record.id)

    def load(self, cookie_value: str | None) -> SessionRecord | None:
        """The live session behind a cookie, or None. Raises StoreUnavailable (fail closed)."""
        session_id = self.codec.loads(cookie_value)
        if session_id is None:
            return None
        record = self.store.get_session(session_id)
        if record is None:
            return None
        now = self.clock()
        if now >= record.expires or now - record.last_seen >= self.settings.idle_timeout:
            if self.store.delete_session(record.id):
                metrics.logout("timeout")
            return None
        if now - record.last_seen >= self.settings.touch_interval:
            self.store.touch_session(record.id, now, self.settings.idle_timeout)
        return record

    def end(self, session_id: str) -> bool:
        return self.store.delete_session(session_id)

    def set_cookie(self, response: Any, record: SessionRecord, cookie: str) -> None:
        """Write the session cookie. The server enforces the exact lifetime; the cookie may
        outlive it by a little, since clients round Max-Age to whole seconds by their clock."""
        response.set_cookie(value=cookie, max_age=math.ceil(record.expires - record.created) + 1,
                            **self.cookie_options())

    def clear_cookie(self, response: Any) -> None:
        options = self.cookie_options()
        response.delete_cookie(options.pop("key"), **options)

    def cookie_options(self) -> dict[str, Any]:
        s = self.settings
        return {"key": s.name, "domain": s.domain, "path": "/", "secure": s.secure,
                "httponly": True, "samesite": s.samesite}


def identity_of(record: SessionRecord) -> Identity:
    """Who a session is, as the policy sees it (groups, provider, sign-in level)."""
    data = record.data
    auth_time = data.get("auth_time")
    acr = data.get("acr")
    return Identity(user=record.user, provider=record.provider,
                    groups=frozenset(data.get("groups", ())),
                    acr=acr if isinstance(acr, str) else None,
                    auth_time=float(auth_time) if isinstance(auth_time, (int, float)) else None)
