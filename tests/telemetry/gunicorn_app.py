"""A minimal app for test_gunicorn: ``/auth`` records one decision, ``/sso/metrics`` scrapes.

Loaded once in gunicorn's master (``preload_app``), like ssomw.wsgi, so the metrics module is
imported and the series registered before the workers fork.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from flask import Flask

from ssomw.telemetry import metrics
from ssomw.views.metrics import bp

metrics.register(["wiki"], ["idp"])
pages = Flask(__name__)
pages.extensions["ssomw"] = SimpleNamespace(
    config={"metrics": {"enabled": True, "allow_from": ["127.0.0.1/32"]}})
pages.register_blueprint(bp, url_prefix="/sso")


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/auth":
        metrics.auth_decision("wiki", "allow", 0.0003)
        start_response("200 OK", [("X-Worker-Pid", str(os.getpid()))])
        return [b""]
    return pages.wsgi_app(environ, start_response)
