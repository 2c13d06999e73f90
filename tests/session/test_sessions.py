"""Sessions: fresh ids, key rotation, idle and absolute timeouts, coarse touching."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssomw.session.cookies import CookieCodec
from ssomw.session.manager import Sessions, SessionSettings
from ssomw.store.sqlite import SqliteStore

OLD, NEW = "o" * 40, "n" * 40


class Clock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


def settings(keys: tuple[str, ...] = (NEW,), idle: float = 600, life: float = 3600):
    return SessionSettings(name="s", domain=None, secure=True, samesite="Lax",
                           idle_timeout=idle, max_lifetime=life, secret_keys=keys)


@pytest.fixture
def store(tmp_path: Path):
    s = SqliteStore(str(tmp_path / "s.db"))
    yield s
    s.close()


def test_rotation_first_key_signs_all_keys_verify():
    old_cookie = CookieCodec([OLD]).dumps("session-id")
    rotated = CookieCodec([NEW, OLD])
    assert rotated.loads(old_cookie) == "session-id"
    assert CookieCodec([NEW]).loads(rotated.dumps("x")) == "x"
    assert CookieCodec([OLD]).loads(rotated.dumps("x")) is None
    assert CookieCodec([NEW]).loads(old_cookie) is None


@pytest.mark.parametrize("value", ["", "abc", "a.b", "x" * 600, "é.é", None])
def test_malformed_cookies_are_no_session(value):
    assert CookieCodec([NEW]).loads(value) is None


def test_every_sign_in_gets_a_new_id(store):
    sessions = Sessions(store, settings())
    ids = {sessions.create(user="u", provider="p", sub="s", sid=None, data={})[0].id
           for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 43 for i in ids)


def test_idle_timeout_and_touch_interval(store):
    import time
    clock = Clock(time.time())
    sessions = Sessions(store, settings(idle=600), clock=clock)
    record, cookie = sessions.create(user="u", provider="p", sub="s", sid=None, data={})
    clock.now += 30
    assert sessions.load(cookie) is not None
    assert store.get_session(record.id).last_seen == record.last_seen  # not touched yet
    clock.now += 100
    assert sessions.load(cookie) is not None
    assert store.get_session(record.id).last_seen == pytest.approx(clock.now)  # touched
    clock.now += 601
    assert sessions.load(cookie) is None
    assert store.get_session(record.id) is None  # removed, not just hidden


def test_absolute_lifetime_even_when_active(store):
    import time
    clock = Clock(time.time())
    sessions = Sessions(store, settings(idle=600, life=1000), clock=clock)
    _, cookie = sessions.create(user="u", provider="p", sub="s", sid=None, data={})
    for _ in range(9):
        clock.now += 100
        assert sessions.load(cookie) is not None
    clock.now += 101
    assert sessions.load(cookie) is None


def test_a_cookie_signed_with_a_dropped_key_is_refused(store):
    _, cookie = Sessions(store, settings((OLD,))).create(
        user="u", provider="p", sub="s", sid=None, data={})
    assert Sessions(store, settings((NEW, OLD))).load(cookie) is not None
    assert Sessions(store, settings((NEW,))).load(cookie) is None
