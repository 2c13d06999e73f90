"""Running under gunicorn: the settings shared by ``ssomw serve`` and conf/gunicorn.conf.py.

Sync workers, one per core: the auth check is CPU-bound and short, and measurements here showed
more workers than cores or threaded workers (without upstream keepalive) only add overhead.
The app is preloaded so a bad config fails once, in the master, before any worker forks.
Metrics: every worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape,
whichever worker answers it, adds them up (see ssomw/telemetry/metrics.py).
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from typing import Any

import click
from gunicorn.app.base import BaseApplication

from ssomw.cli.common import CONFIG_OPTION, load_or_exit


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
        "child_exit": child_exit,
        "on_exit": on_exit,
    }


METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREPARED_ENV = "SSOMW_METRICS_PREPARED"  # inherited by a re-exec'd master (USR2): keep counts
_made_metrics_dir: list[str] = []  # the directory prepare_metrics_dir created, if any


def prepare_metrics_dir() -> str:
    """Set up the workers' metrics directory; must run before the app (and prometheus_client,
    which picks its multiprocess mode at import) is loaded. Idempotent, so a config reload
    (SIGHUP re-reads conf/gunicorn.conf.py) does not wipe the running workers' counts.

    A directory the operator set is emptied at start, since a previous run's files would be
    added to this run's counts (so two servers must not share one); otherwise a fresh private
    one is made and removed on exit.
    """
    path = os.environ.get(METRICS_DIR_ENV)
    if path and os.environ.get(PREPARED_ENV) == path:
        return path
    if path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    else:
        path = tempfile.mkdtemp(prefix="ssomw-metrics-")
        os.environ[METRICS_DIR_ENV] = path
        _made_metrics_dir.append(path)
    os.environ[PREPARED_ENV] = path
    return path


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: drop its live-only gauges (its counters stay, so totals never drop)."""
    if os.environ.get(METRICS_DIR_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if getattr(server, "reexec_pid", 0):  # a new master (USR2) carries on with the directory
        return
    for path in _made_metrics_dir:
        shutil.rmtree(path, ignore_errors=True)


class GatewayServer(BaseApplication):
    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from ssomw.wsgi import create_app

        return create_app()


def run(bind: str, workers: int | None) -> None:
    prepare_metrics_dir()
    GatewayServer(default_options(bind, workers)).run()


@click.command()
@CONFIG_OPTION
@click.option("--bind", default="127.0.0.1:4180", show_default=True, metavar="HOST:PORT")
@click.option("--workers", type=int, default=None, help="default: number of CPU cores")
def serve(config_file: str | None, bind: str, workers: int | None) -> None:
    """Run the gateway under gunicorn."""
    config = load_or_exit(config_file)
    assert config.source is not None
    os.environ["SSOMW_CONFIG"] = str(config.source.resolve())
    run(bind=bind, workers=workers)
