"""Session records for the store tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from ssomw.store import SessionRecord


def make_session(
    user: str = "alice",
    *,
    provider: str = "kc",
    sub: str | None = None,
    sid: str | None = "sid-1",
    life: float = 3600.0,
    idle_ago: float = 0.0,
    data: dict[str, Any] | None = None,
) -> SessionRecord:
    """A fresh session with a random id; ``idle_ago`` backdates last_seen."""
    now = time.time()
    return SessionRecord(
        id=uuid.uuid4().hex, user=user, provider=provider, sub=sub or f"sub-{user}", sid=sid,
        created=now - idle_ago, last_seen=now - idle_ago, expires=now + life,
        data=data if data is not None else {"groups": ["staff"], "email": f"{user}@example.org"},
    )  # fmt: skip


# One call per Store method, for "every method fails closed" tables.
EVERY_METHOD = [
    pytest.param(lambda s: s.put_session(make_session(), 60), id="put_session"),
    pytest.param(lambda s: s.get_session("x"), id="get_session"),
    pytest.param(lambda s: s.touch_session("x", time.time(), 60), id="touch_session"),
    pytest.param(lambda s: s.delete_session("x"), id="delete_session"),
    pytest.param(lambda s: s.update_session_data(make_session()), id="update_session_data"),
    pytest.param(lambda s: s.delete_sessions(["x", "y"]), id="delete_sessions"),
    pytest.param(lambda s: s.sessions_by_sid("kc", "s"), id="sessions_by_sid"),
    pytest.param(lambda s: s.sessions_by_sub("kc", "s"), id="sessions_by_sub"),
    pytest.param(lambda s: s.sessions_by_user("alice"), id="sessions_by_user"),
    pytest.param(lambda s: s.all_sessions(), id="all_sessions"),
    pytest.param(lambda s: s.purge_expired(time.time(), 60), id="purge_expired"),
    pytest.param(lambda s: s.kv_get("n", "k"), id="kv_get"),
    pytest.param(lambda s: s.kv_set("n", "k", b"v", 60), id="kv_set"),
    pytest.param(lambda s: s.kv_set_many("n", {"a": b"1", "b": b"2"}, None), id="kv_set_many"),
    pytest.param(lambda s: s.kv_add("n", "k", b"v", 60), id="kv_add"),
    pytest.param(lambda s: s.kv_items("n", "a"), id="kv_items"),
    pytest.param(lambda s: s.kv_delete("n", "k"), id="kv_delete"),
    pytest.param(lambda s: s.kv_pop("n", "k"), id="kv_pop"),
    pytest.param(lambda s: s.incr("n", "c", 60), id="incr"),
    pytest.param(lambda s: s.ping(), id="ping"),
]
