"""Fixtures that run the one store contract suite against every backend.

``backend`` opens Store objects on one shared storage (several objects = several gateway
instances); ``store`` is the first of them. Redis (standalone, and a 3-master Cluster) runs
once per session and is flushed per test.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from ssomw.config import section_defaults
from ssomw.store import Store, open_store
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer


@dataclass
class Backend:
    """One storage location and a way to open more Store objects on it."""

    name: str
    settings: dict[str, Any]
    footprint: Callable[[], int]  # rows (sqlite) or keys (redis) currently held
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        store = open_store(section_defaults("store", self.settings))
        self.opened.append(store)
        return store


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    with RedisCluster() as cluster:
        yield cluster


def _sqlite_footprint(path: Path) -> Callable[[], int]:
    def count() -> int:
        with sqlite3.connect(path) as conn:
            return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                       for t in ("sessions", "kv"))  # fmt: skip

    return count


@pytest.fixture(params=["sqlite", "redis", "redis-cluster"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "state" / "ssomw.db"
        b = Backend("sqlite", {"backend": "sqlite", "path": str(path)}, _sqlite_footprint(path))
    elif request.param == "redis-cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        settings = {"backend": "redis", "url": cluster.url, "key_prefix": "t:"}
        b = Backend("redis-cluster", settings, cluster.dbsize)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        client = redis.Redis.from_url(server.url)
        client.flushall()
        settings = {"backend": "redis", "url": server.url, "key_prefix": "t:"}
        b = Backend("redis", settings, lambda: int(client.dbsize()))
    yield b
    for store in b.opened:
        store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()
