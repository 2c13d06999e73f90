"""Session contract: every backend must pass these unchanged."""

from __future__ import annotations

import time

import pytest

from ssomw.store import Store
from tests.store.conftest import Backend
from tests.store.records import make_session

IDLE = 3600.0


def ids(records: list) -> set[str]:
    return {r.id for r in records}


def test_put_get_round_trip(store: Store) -> None:
    rec = make_session(data={"groups": [], "name": "Zoë", "claims": {"acr": "mfa", "x": []}})
    store.put_session(rec, IDLE)
    assert store.get_session(rec.id) == rec


def test_get_unknown_session_is_none(store: Store) -> None:
    assert store.get_session("no-such-session") is None


def test_put_replaces_record_and_its_indexes(store: Store) -> None:
    rec = make_session("alice", sid="sid-a")
    store.put_session(rec, IDLE)
    rec.user, rec.sid, rec.data = "bob", "sid-b", {"groups": ["admins"]}
    store.put_session(rec, IDLE)
    assert store.get_session(rec.id) == rec
    assert store.sessions_by_user("alice") == []
    assert store.sessions_by_sid("kc", "sid-a") == []
    assert ids(store.sessions_by_user("bob")) == {rec.id}
    assert ids(store.sessions_by_sid("kc", "sid-b")) == {rec.id}


@pytest.fixture
def population(store: Store) -> dict[str, str]:
    """alice twice at kc (same sid, one browser; one other), bob at kc and at google."""
    recs = {
        "alice1": make_session("alice", sid="s1"),
        "alice2": make_session("alice", sid="s2"),
        "alice3": make_session("alice", sid="s1"),
        "bob-kc": make_session("bob", sid="s3"),
        "bob-g": make_session("bob", provider="google", sub="sub-bob", sid="s1"),
        "carol": make_session("carol", sid=None),
    }
    for rec in recs.values():
        store.put_session(rec, IDLE)
    return {name: rec.id for name, rec in recs.items()}


@pytest.mark.parametrize(
    ("lookup", "args", "expected"),
    [
        pytest.param("sessions_by_sid", ("kc", "s1"), {"alice1", "alice3"}, id="sid"),
        pytest.param("sessions_by_sid", ("google", "s1"), {"bob-g"}, id="sid-other-provider"),
        pytest.param("sessions_by_sid", ("kc", "nope"), set(), id="sid-unknown"),
        pytest.param("sessions_by_sub", ("kc", "sub-alice"), {"alice1", "alice2", "alice3"},
                     id="sub"),
        pytest.param("sessions_by_sub", ("kc", "sub-bob"), {"bob-kc"}, id="sub-per-provider"),
        pytest.param("sessions_by_sub", ("kc", "sub-carol"), {"carol"}, id="sub-without-sid"),
        pytest.param("sessions_by_user", ("bob",), {"bob-kc", "bob-g"}, id="user"),
        pytest.param("sessions_by_user", ("dave",), set(), id="user-unknown"),
    ],
)  # fmt: skip
def test_indexes(
    store: Store, population: dict[str, str], lookup: str, args: tuple, expected: set[str]
) -> None:
    found = getattr(store, lookup)(*args)
    assert ids(found) == {population[name] for name in expected}


def test_all_sessions_lists_every_live_session(store: Store, population: dict[str, str]) -> None:
    assert ids(store.all_sessions()) == set(population.values())


def test_delete_removes_session_from_every_index(store: Store, population: dict[str, str]) -> None:
    victim = population["alice1"]
    assert store.delete_session(victim) is True
    assert store.delete_session(victim) is False
    assert store.get_session(victim) is None
    assert victim not in ids(store.sessions_by_sid("kc", "s1"))
    assert victim not in ids(store.sessions_by_sub("kc", "sub-alice"))
    assert victim not in ids(store.sessions_by_user("alice"))
    assert victim not in ids(store.all_sessions())


def test_delete_sessions_batch(store: Store, population: dict[str, str]) -> None:
    gone = [population["alice1"], population["bob-g"], population["carol"]]
    assert store.delete_sessions([*gone, "no-such-session", gone[0]]) == 3
    assert ids(store.all_sessions()) == set(population.values()) - set(gone)
    assert store.delete_sessions([]) == 0


def test_delete_sessions_larger_than_one_batch(store: Store) -> None:
    recs = [make_session(f"user{i % 7}", sid=f"s{i % 3}") for i in range(1100)]
    for rec in recs:
        store.put_session(rec, IDLE)
    assert store.delete_sessions(r.id for r in recs) == 1100
    assert store.all_sessions() == []
    assert store.sessions_by_user("user1") == []


@pytest.mark.parametrize(
    ("life", "idle_ago", "idle_timeout"),
    [
        pytest.param(-1.0, 0.0, IDLE, id="past-expires"),
        pytest.param(3600.0, 100.0, 50.0, id="idle-too-long"),
    ],
)
def test_dead_session_is_never_returned(
    store: Store, life: float, idle_ago: float, idle_timeout: float
) -> None:
    rec = make_session(life=life, idle_ago=idle_ago)
    store.put_session(rec, idle_timeout)
    assert store.get_session(rec.id) is None
    assert store.sessions_by_user("alice") == []
    assert store.sessions_by_sid("kc", "sid-1") == []
    assert store.all_sessions() == []
    assert store.delete_session(rec.id) is False


def test_expires_is_honoured_over_time(store: Store) -> None:
    """A 1 s life: the first read (a first connection, slow on a busy host) comes well inside it."""
    rec = make_session(life=1.0)
    store.put_session(rec, IDLE)
    assert store.get_session(rec.id) == rec
    time.sleep(1.1)
    assert store.get_session(rec.id) is None
    assert store.sessions_by_user("alice") == []


def test_touch_slides_idle_deadline(store: Store) -> None:
    """Alive 1.2 s after the put (past the first 1 s deadline) because of the touch at 0.6 s;
    gone 1 s after that touch. Each step leaves 0.4 s for a slow, busy machine."""
    rec = make_session()
    store.put_session(rec, 1.0)
    time.sleep(0.6)
    store.touch_session(rec.id, time.time(), 1.0)
    time.sleep(0.6)
    alive = store.get_session(rec.id)
    assert alive is not None and alive.last_seen > rec.last_seen
    time.sleep(1.0)
    assert store.get_session(rec.id) is None


def test_touch_never_extends_past_expires(store: Store) -> None:
    rec = make_session(life=0.3)
    store.put_session(rec, IDLE)
    store.touch_session(rec.id, time.time(), IDLE)
    time.sleep(0.4)
    assert store.get_session(rec.id) is None


def test_touch_does_not_resurrect_deleted_session(store: Store) -> None:
    rec = make_session()
    store.put_session(rec, IDLE)
    store.delete_session(rec.id)
    store.touch_session(rec.id, time.time(), IDLE)
    store.touch_session("never-existed", time.time(), IDLE)
    assert store.get_session(rec.id) is None
    assert store.all_sessions() == []


def test_purge_removes_idle_sessions_by_the_given_timeout(store: Store) -> None:
    idle, active = make_session("idle", idle_ago=100), make_session("active")
    store.put_session(idle, IDLE)
    store.put_session(active, IDLE)
    assert store.purge_expired(time.time(), 50) == 1
    assert store.get_session(idle.id) is None
    assert store.sessions_by_user("idle") == []
    assert ids(store.all_sessions()) == {active.id}


def test_purge_keeps_live_sessions(store: Store, population: dict[str, str]) -> None:
    assert store.purge_expired(time.time(), IDLE) == 0
    assert ids(store.all_sessions()) == set(population.values())


def test_purge_of_many_sessions_leaves_nothing_behind(backend: Backend, store: Store) -> None:
    for i in range(2000):
        rec = make_session(f"user{i % 50}", provider=f"p{i % 2}", sid=f"s{i % 300}")
        store.put_session(rec, IDLE)
    store.kv_set("keep", "me", b"1", 10 * IDLE)
    assert store.purge_expired(time.time() + 7200, IDLE) == 2000
    assert store.all_sessions() == []
    assert backend.footprint() == 1  # only the kv entry: no index or listing leftovers
    assert store.purge_expired(time.time() + 7200, IDLE) == 0


def test_purge_also_clears_naturally_expired_sessions(backend: Backend, store: Store) -> None:
    for _ in range(5):
        store.put_session(make_session(life=0.1), IDLE)
    time.sleep(0.2)
    assert store.purge_expired(time.time(), IDLE) == 5
    assert backend.footprint() == 0


def test_instances_sharing_a_backend_see_each_others_writes(backend: Backend) -> None:
    one, two = backend.open(), backend.open()
    rec = make_session()
    one.put_session(rec, IDLE)
    assert two.get_session(rec.id) == rec
    assert ids(two.sessions_by_sid("kc", "sid-1")) == {rec.id}
    assert two.delete_session(rec.id) is True
    assert one.get_session(rec.id) is None
    assert one.sessions_by_user("alice") == []


def test_sessions_survive_close_and_reopen(backend: Backend) -> None:
    first = backend.open()
    rec = make_session()
    first.put_session(rec, IDLE)
    first.close()
    assert backend.open().get_session(rec.id) == rec


def test_closed_store_reconnects_when_used_again(store: Store) -> None:
    rec = make_session()
    store.put_session(rec, IDLE)
    store.close()
    assert store.get_session(rec.id) == rec


def test_update_session_data_never_resurrects_a_deleted_session(store: Store) -> None:
    rec = make_session("upd")
    store.put_session(rec, 3600)
    rec.data = {"groups": ["new"]}
    assert store.update_session_data(rec) is True
    assert store.get_session(rec.id).data == {"groups": ["new"]}
    assert [r.id for r in store.sessions_by_user("upd")] == [rec.id]
    store.delete_session(rec.id)
    assert store.update_session_data(rec) is False
    assert store.get_session(rec.id) is None
    assert store.sessions_by_user("upd") == []
