"""Expired sessions are purged, so the store never grows without bound."""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.housekeeping import purge_round
from ssomw.gateway.runtime import Runtime
from ssomw.wsgi import Gateway


def runtime(tmp_path: Path) -> Runtime:
    return Runtime.build(from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "idle_timeout": 60, "max_lifetime": 3600},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "c",
                       "client_secret": "s"}],
        "apps": [{"id": "a", "hosts": ["a.example.com"]}],
    })))


def test_many_expired_sessions_are_purged_once_per_interval(tmp_path: Path):
    rt = runtime(tmp_path)
    for i in range(3000):
        rt.sessions.create(user=f"u{i % 300}", provider="idp", sub=f"s{i}", sid=f"sid{i}",
                           data={})
    _, live_cookie = rt.sessions.create(user="keep", provider="idp", sub="k", sid=None, data={})
    assert len(rt.store.all_sessions()) == 3001
    # 61 s later, nobody was active except "keep" (simulated by touching it).
    later = time.time() + 61
    kept = rt.sessions.codec.loads(live_cookie)
    rt.store.touch_session(kept, later, 60)
    assert purge_round(rt, now=later) == 3000
    assert [r.user for r in rt.store.all_sessions()] == ["keep"]
    assert rt.store.sessions_by_user("u1") == [] and rt.store.sessions_by_sid("idp", "sid1") == []


def test_one_purge_per_interval_across_workers(tmp_path: Path):
    first, second = runtime(tmp_path), runtime(tmp_path)  # two workers, one store
    assert purge_round(first) == 0
    assert purge_round(second) is None


def test_a_closed_gateway_stops_its_upkeep_threads_and_never_restarts_them(tmp_path: Path):
    built = runtime(tmp_path)
    gateway = Gateway(built.config, built)
    client = Client(gateway)
    client.get("/sso/healthz")  # the first request starts the threads
    upkeep = (gateway.housekeeper.thread, gateway.watcher, gateway.broker_logout)
    mine = [t._thread for t in upkeep]
    assert all(t is not None and t.is_alive() for t in mine)
    assert {t.name for t in mine if t} == {"ssomw-housekeeping", "ssomw-config-watch",
                                           "ssomw-broker-logout"}
    started = time.monotonic()
    gateway.close()
    assert time.monotonic() - started < 2  # each wakes from its pause at once, not next round
    assert not any(t and t.is_alive() for t in mine)
    ended = [t._thread for t in upkeep]
    gateway._threads_for = None  # as if in a new process: a request would start them again
    assert client.get("/sso/healthz").status_code == 200  # still serves
    assert [t._thread for t in upkeep] == ended  # no new thread was started
