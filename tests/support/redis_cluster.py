"""A throwaway 3-master Redis Cluster from Debian's ``redis-server`` (free ports, own dirs).

    with RedisCluster() as cluster:
        store = open_store(... {"url": cluster.url} ...)   # redis+cluster://h:p,h:p,h:p
        cluster.node_for(key).freeze()                      # a master stops answering

Each master is a :class:`RedisServer` started with ``--cluster-enabled yes``; ``redis-cli
--cluster create ... --cluster-replicas 0 --cluster-yes`` splits the 16384 slots between them.
Nodes keep their ``nodes.conf`` in their own dir, so ``node.stop(); node.start()`` brings the
same master (and its slots) back, empty (nothing is persisted).
"""

from __future__ import annotations

import shutil
import subprocess
import time

import redis

from tests.support.patience import STARTUP
from tests.support.redis_server import RedisServer

MASTERS = 3


class RedisCluster:
    """Three cluster-enabled masters, no replicas; ``flush()`` empties every node."""

    def __init__(self, masters: int = MASTERS) -> None:
        self.nodes = [RedisServer(cluster_bus=True, extra_args=[
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "yes",
        ]) for _ in range(masters)]  # fmt: skip

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{n.host}:{n.port}" for n in self.nodes)

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        subprocess.run(
            [cli, "--cluster", "create", *(f"{n.host}:{n.port}" for n in self.nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.wait_ok()
        return self

    def wait_ok(self, timeout: float = STARTUP) -> None:
        """Until every node reports ``cluster_state:ok`` and knows all the others."""
        deadline = time.monotonic() + timeout
        while True:
            if all(self._ok(n) for n in self.nodes):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("redis cluster did not reach cluster_state:ok")
            time.sleep(0.1)

    def _ok(self, node: RedisServer) -> bool:
        try:
            client = redis.Redis(host=node.host, port=node.port, socket_timeout=1)
            info = client.cluster("info")
            known = len(client.cluster("nodes"))
            client.close()
        except redis.RedisError:
            return False
        state = info.get("cluster_state") if isinstance(info, dict) else None
        return state == "ok" and known == len(self.nodes)

    def client(self) -> redis.RedisCluster:
        node = self.nodes[0]
        return redis.RedisCluster(host=node.host, port=node.port)

    def flush(self) -> None:
        for node in self.nodes:
            redis.Redis(host=node.host, port=node.port).flushall()

    def dbsize(self) -> int:
        return sum(int(redis.Redis(host=n.host, port=n.port).dbsize()) for n in self.nodes)

    def node_for(self, key: str) -> RedisServer:
        """The master holding ``key``'s slot."""
        client = self.client()
        found = client.get_node_from_key(key)
        client.close()
        return next(n for n in self.nodes if n.port == found.port)

    def stop(self) -> None:
        for node in self.nodes:
            node.thaw()
            node.close()

    def __enter__(self) -> RedisCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
