"""Running under gunicorn: the settings shared by ``ssomw serve`` and conf/gunicorn.conf.py.

Sync workers, one per core: the auth check is CPU-bound and short, and measurements here showed
more workers than cores or threaded workers (without upstream keepalive) only add overhead.
The app is preloaded so a bad config fails once, in the master, before any worker forks.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication


def default_options(bind: str = "127.0.0.1:4180", workers: int | None = None) -> dict[str, Any]:
    return {
        "bind": bind,
        "workers": workers or os.cpu_count() or 2,
        "worker_class": "sync",
        "preload_app": True,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "ssomw",
        "forwarded_allow_ips": "",
    }


class GatewayServer(BaseApplication):
    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from .wsgi import create_app

        return create_app()


def run(bind: str, workers: int | None) -> None:
    GatewayServer(default_options(bind, workers)).run()
