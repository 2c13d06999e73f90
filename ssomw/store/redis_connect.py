"""A redis-py client for each store URL form: ``redis://``, ``rediss://`` (TLS), ``unix://``,
``redis+sentinel://`` (the master a Sentinel names) and ``redis+cluster://`` (any node finds
the others). The store (redis.py) does not care which: it gets a client that answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode
from redis.retry import Retry
from redis.sentinel import Sentinel


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("redis+cluster", "rediss+cluster")


def connect(url: str, socket_timeout: float = 0.5) -> Any:
    """A client for redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URLs.

    Timeouts are short and there is one immediate retry (a pooled connection may have
    died with a Redis restart) and no backoff, so an outage fails within about a second.
    """
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        "retry": Retry(NoBackoff(), 1),
    }
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        return redis.Redis.from_url(url, **options)
    if scheme == "redis+sentinel":
        return _sentinel(url, options)
    if scheme in ("redis+cluster", "rediss+cluster"):
        return _cluster(url, options)
    raise ValueError(f"unsupported store URL scheme {scheme!r}")


def _sentinel(url: str, options: dict[str, Any]) -> redis.Redis:
    """``redis+sentinel://[[user]:password@]host:port[,host:port]/service[/db]``.

    The password authenticates to the Redis master; ``?sentinel_password=`` to the
    Sentinels, if they need one.
    """
    parts = urlsplit(url)
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    hosts = [_host_port(h) for h in hostlist.split(",") if h]
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not hosts or not 1 <= len(path) <= 2:
        raise ValueError("sentinel URL must be redis+sentinel://host:port[,...]/service[/db]")
    service, db = path[0], int(path[1]) if len(path) == 2 else 0
    query = parse_qs(parts.query)
    sentinel_kwargs = dict(options)
    if "sentinel_password" in query:
        sentinel_kwargs["password"] = query["sentinel_password"][0]
    sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs, **options)
    return sentinel.master_for(
        service, db=db, username=unquote(username) or None, password=unquote(password) or None
    )


def _cluster(url: str, options: dict[str, Any]) -> redis.RedisCluster:
    """``redis+cluster://[[user]:password@]host:port[,host:port]`` (``rediss+cluster`` for TLS):
    any reachable node finds the others. The client asks the cluster for its map when made."""
    hosts, username, password = parse_cluster_url(url)
    return redis.RedisCluster(
        startup_nodes=[ClusterNode(h, p) for h, p in hosts], username=username,
        password=password, ssl=url.lower().startswith("rediss"), **options,
    )  # fmt: skip


def parse_cluster_url(url: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """``(nodes, username, password)`` of a cluster URL; ValueError if it is not one."""
    parts = urlsplit(url)
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    hosts = [_host_port(h, 6379) for h in hostlist.split(",") if h]
    if not hosts or parts.path.strip("/") not in ("", "0"):
        raise ValueError("cluster URL must be redis+cluster://host:port[,host:port] (db 0 only)")
    return hosts, unquote(username) or None, unquote(password) or None


def _host_port(item: str, default_port: int = 26379) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    if not host:
        host, port = port, str(default_port)
    return host.strip("[]"), int(port)
