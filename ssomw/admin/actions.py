"""User administration shared by the REST API and the console: one set of rules each.

Each function changes the store, audits the change with its author (``token:<name>`` from
the API, ``console:<user>`` from the console) and returns what it did; the callers only word
the answer. Ending sessions is in force at nginx within 1 s on every instance (its decision
cache never outlives a second).
"""

from __future__ import annotations

from collections.abc import Iterable

from ssomw.admin.service import AdminError
from ssomw.gateway.runtime import Runtime
from ssomw.identity.users import LocalChange
from ssomw.telemetry import audit, metrics


def end_session(rt: Runtime, session_id: str, author: str, via: str) -> str:
    """End one live session; returns its user. 404 when there is no such live session."""
    record = rt.store.get_session(session_id)
    if record is None or not rt.store.delete_session(session_id):
        raise AdminError(404, "not_found", "no live session with this id")
    audit.record(rt.store, "session_revoked", author=author, via=via, session=session_id[:8],
                 user=record.user)
    metrics.logout("admin")
    return record.user


def end_user_sessions(rt: Runtime, user: str, author: str, via: str) -> int:
    """Force logout: end every live session of ``user``; 404 when there is none."""
    ended = rt.store.delete_sessions(r.id for r in rt.store.sessions_by_user(user))
    if not ended:
        raise AdminError(404, "not_found", "the user has no live session")
    audit.record(rt.store, "user_sessions_revoked", author=author, via=via, user=user,
                 ended=ended)
    metrics.logout("admin", ended)
    return ended


def set_local_groups(rt: Runtime, user: str, names: Iterable[str], author: str,
                     via: str) -> LocalChange:
    """Replace the user's local groups, in force in their live sessions at once."""
    result = rt.identities.assign_local(user, names)
    audit.record(rt.store, "local_groups_changed", author=author, via=via, user=user,
                 groups=result.local)
    return result
