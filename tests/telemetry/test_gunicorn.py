"""Real gunicorn, two sync workers recycled every few requests: every scrape, whichever worker
answers it, shows the count of every request — including those of workers that have exited —
at most one flush interval after the request."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests

from ssomw.telemetry.metrics import FLUSH_INTERVAL
from tests.support.net import free_port
from tests.support.process import ManagedProcess, wait_ready

from .scrape import value

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
workers = 2
worker_class = "sync"
preload_app = True
max_requests = 10
max_requests_jitter = 0
loglevel = "warning"


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
"""


def test_scrapes_add_up_all_workers_past_and_present(tmp_path: Path):
    multiproc_dir = tmp_path / "metrics"
    multiproc_dir.mkdir()
    (tmp_path / "gunicorn.conf.py").write_text(CONFIG)
    port = free_port()
    server = ManagedProcess("gunicorn", tmp_path / "gunicorn.log")
    server.start([sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "gunicorn.conf.py"),
                  "-b", f"127.0.0.1:{port}", "tests.telemetry.gunicorn_app:app"],
                 cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT),
                                "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)})
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(server, f"{base}/sso/metrics")
        pids = set()
        for _ in range(60):
            response = requests.get(f"{base}/auth", timeout=5)
            assert response.status_code == 200
            pids.add(response.headers["X-Worker-Pid"])
        assert len(pids) >= 4, "workers were recycled (max_requests) during the run"
        deadline = time.monotonic() + 10 * FLUSH_INTERVAL  # every worker flushes each interval
        while value("ssomw_auth_decisions_total", requests.get(
                f"{base}/sso/metrics", timeout=5).text, app="wiki", outcome="allow") < 60:
            assert time.monotonic() < deadline, "the counts never added up"
            time.sleep(0.1)
        for _ in range(6):
            text = requests.get(f"{base}/sso/metrics", timeout=5).text
            assert value("ssomw_auth_decisions_total", text, app="wiki", outcome="allow") == 60
            assert value("ssomw_auth_request_duration_seconds_bucket", text, outcome="allow",
                         le="0.0005") == 60
    finally:
        server.stop()
