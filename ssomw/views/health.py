"""Liveness and readiness for load balancers and orchestrators.

Ready means the store answers *and takes writes*: a store that reads but refuses writes (a full
disk, a read-only replica) cannot sign anyone in or out, so such an instance should get no
traffic. The write is one small key per process with a TTL, made at most once per
:data:`PROBE_INTERVAL` seconds whatever the probe rate; between probes the last result stands.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app

from ssomw.store.base import Store, StoreUnavailable
from ssomw.views.common import runtime

bp = Blueprint("health", __name__)
PROBE_INTERVAL = 5.0
PROBE_NAMESPACE = "readyz"


class WriteProbe:
    """Whether the store took a write lately: one write per ``interval``, result kept."""

    def __init__(self, store: Store, interval: float = PROBE_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.interval = interval
        self.clock = clock
        self.key = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._writable = False

    def writable(self) -> bool:
        with self._lock:
            now = self.clock()
            if now - self._checked >= self.interval:
                self._checked = now
                try:
                    self.store.kv_set(PROBE_NAMESPACE, self.key, b"1", 60.0)
                    self._writable = True
                except StoreUnavailable:
                    self._writable = False
            return self._writable


def write_probe() -> WriteProbe:
    """This app's probe (one per process and store: the app is rebuilt with a new store)."""
    probe = current_app.extensions.get("ssomw.write_probe")
    store = runtime().store
    if probe is None or probe.store is not store:
        probe = current_app.extensions["ssomw.write_probe"] = WriteProbe(store)
    return probe


@bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    try:
        runtime().store.ping()
    except StoreUnavailable:
        return {"status": "unavailable", "store": "unreachable"}, 503
    if not write_probe().writable():
        return {"status": "unavailable", "store": "refuses writes"}, 503
    return {"status": "ready", "store": "ok", "config": "loaded"}
