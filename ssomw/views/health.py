"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ssomw.store.base import StoreUnavailable
from ssomw.views.common import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    try:
        runtime().store.ping()
    except StoreUnavailable:
        return {"status": "unavailable", "store": "unreachable"}, 503
    return {"status": "ready", "store": "ok", "config": "loaded"}
