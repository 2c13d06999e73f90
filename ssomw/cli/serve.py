"""Running under gunicorn: the settings shared by ``ssomw serve`` and conf/gunicorn.conf.py.

Sync workers, one per core: the auth check is CPU-bound and short, and measurements here showed
more workers than cores or threaded workers (without upstream keepalive) only add overhead.
The app is preloaded so a bad config fails once, in the master, before any worker forks.
Metrics: every worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape,
whichever worker answers it, adds them up (see ssomw/telemetry/metrics.py).

At start ``ssomw serve`` says where it listens and what it runs (:func:`when_ready`: the
address, workers, version, config file and version, store; never a secret), and a port it
cannot listen on is one line and exit 1 (:func:`bind_problem`) instead of gunicorn's five
retries.
"""

from __future__ import annotations

import errno
import glob
import importlib.metadata
import os
import shutil
import socket
import sys
import tempfile
from typing import Any

import click
from gunicorn.app.base import BaseApplication

from ssomw.cli.common import CONFIG_OPTION, load_or_exit
from ssomw.core.url_secrets import redact_url


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
        "when_ready": when_ready,
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


def version() -> str:
    try:
        return importlib.metadata.version("ssomw")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def banner(where: str, workers: int, gateway: Any) -> list[str]:
    """What is running, for the console: no secret (a store URL without its password)."""
    lines = [f"ssomw {version()} listening on {where} "
             f"({workers} worker{'s' if workers != 1 else ''})"]
    config = getattr(gateway, "file_config", None)
    if config is None:
        return lines
    number = gateway.stack.version
    if config["admin"]["config_source"] == "file":
        lines.append(f"  config: {config.source} (admin.config_source: file: the file is "
                     "authoritative, reloaded when it changes)")
    else:
        lines.append(f"  config: {config.source}, active version "
                     f"{number if number is not None else '(file; store unavailable)'} "
                     "(admin.config_source: store)")
    store = config["store"]
    where = store["path"] if store["backend"] == "sqlite" else redact_url(store["url"])
    lines.append(f"  store:  {store['backend']} {where}")
    return lines


def when_ready(server: Any) -> None:
    """gunicorn hook: the master listens and the app is loaded (preloaded), say so."""
    gateway = getattr(server.app, "callable", None)
    where = ", ".join(str(listener) for listener in getattr(server, "LISTENERS", [])) or \
        ", ".join(f"http://{bind}" for bind in server.cfg.bind)
    for line in banner(where, server.cfg.workers, gateway):
        print(line, file=sys.stderr, flush=True)


def bind_problem(bind: str) -> str | None:
    """Why gunicorn could not listen on ``bind`` (None: it can), found before it starts;
    gunicorn itself would retry five times, a second apart, printing each raw error."""
    if bind.startswith(("unix:", "fd://")):
        return None
    host, colon, port = bind.rpartition(":")
    if not colon or not port.isdigit():
        return f"--bind {bind!r}: expected HOST:PORT"
    host = host.strip("[]") or "0.0.0.0"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, OverflowError) as exc:
        return f"cannot listen on {bind}: {getattr(exc, 'strerror', None) or exc}"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"cannot listen on {bind}: the address is already in use (another "
                        "ssomw, or another server, listens there); stop it or choose another "
                        "with --bind HOST:PORT")
            if exc.errno == errno.EACCES:
                return f"cannot listen on {bind}: permission denied (ports below 1024 need " \
                       "privileges)"
            return f"cannot listen on {bind}: {exc.strerror or exc}"
    return None


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
    problem = bind_problem(bind)
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(1)
    os.environ["SSOMW_CONFIG"] = str(config.source.resolve())
    run(bind=bind, workers=workers)
