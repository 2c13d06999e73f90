"""The audit log: security events stored (bounded retention) and written as JSON log lines.

Every event is one JSON object with ``type``, ``time`` and plain fields (never secrets). The
store keeps them under time-ordered keys for later queries; the ``ssomw.audit`` logger writes
the same object, so a log shipper sees every event even if the store is down.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from ssomw.store.base import Store, StoreUnavailable

log = logging.getLogger("ssomw.audit")
NAMESPACE = "audit"
RETENTION = 90 * 86400.0


def record(store: Store, event_type: str, **fields: Any) -> dict[str, Any]:
    now = time.time()
    event = {"type": event_type, "time": round(now, 3), **fields}
    log.info(json.dumps(event, ensure_ascii=False, default=str))
    key = f"{now:017.6f}-{secrets.token_hex(4)}"
    try:
        store.kv_set(NAMESPACE, key, json.dumps(event, default=str).encode(), RETENTION)
    except StoreUnavailable:
        log.error("audit event not stored (store unavailable): %s", event_type)
    return event


def query(store: Store, since: float = 0.0, event_type: str | None = None,
          limit: int = 1000) -> list[dict[str, Any]]:
    events = []
    for key, raw in store.kv_items(NAMESPACE):
        if float(key.split("-")[0]) < since:
            continue
        event = json.loads(raw)
        if event_type is None or event["type"] == event_type:
            events.append(event)
    return events[-limit:]
