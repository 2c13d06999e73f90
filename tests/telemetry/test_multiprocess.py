"""Several processes write into one PROMETHEUS_MULTIPROC_DIR; a scrape shows their sums."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssomw.telemetry import metrics

from .scrape import value

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], multiproc_dir: Path, code: str | None = None) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", code] if code else \
        [sys.executable, "-m", "tests.telemetry.workers", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_forked_workers_of_a_preloaded_master_add_up(tmp_path: Path):
    text = run(["preforked", "3", "40"], tmp_path)
    assert value("ssomw_auth_decisions_total", text, app="app-a", outcome="allow") == 81
    assert value("ssomw_auth_decisions_total", text, app="app-b", outcome="allow") == 40
    assert value("ssomw_auth_request_duration_seconds_count", text, outcome="allow") == 121
    assert value("ssomw_auth_request_duration_seconds_bucket", text, outcome="allow",
                 le="0.00025") == 1
    assert value("ssomw_auth_request_duration_seconds_sum", text,
                 outcome="allow") == pytest.approx(0.0001 + 120 * 0.002)
    assert value("ssomw_logouts_total", text, kind="backchannel") == 1 + 2 + 3
    # every worker wrote its own file: master + 3 workers
    assert len(list(tmp_path.glob("counter_*.db"))) == 4


def test_independent_processes_are_summed_by_the_scrape_in_another(tmp_path: Path,
                                                                   monkeypatch):
    for app, count in (("wiki", 5), ("wiki", 7), ("crm", 2)):
        run(["record", app, str(count)], tmp_path)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = metrics.render()[0].decode()
    assert value("ssomw_auth_decisions_total", text, app="wiki", outcome="allow") == 12
    assert value("ssomw_auth_decisions_total", text, app="crm", outcome="allow") == 2
    assert value("ssomw_sign_ins_total", text, provider="idp", outcome="success") == 3
    # a dead process's counts stay: counters must never go backwards between scrapes
    assert value("ssomw_auth_request_duration_seconds_count", text, outcome="allow") == 14


def test_importing_ssomw_does_not_import_prometheus_client(tmp_path: Path):
    """``ssomw serve`` sets the directory after ``import ssomw`` (the CLI) has run."""
    code = ("import sys, ssomw, ssomw.cli, ssomw.telemetry.metrics, ssomw.views.metrics\n"
            "print('prometheus_client' in sys.modules)\n")
    assert run([], tmp_path, code).strip() == "False"


def test_a_directory_set_after_prometheus_client_was_imported_is_refused(tmp_path: Path):
    code = ("import os, prometheus_client\n"
            f"os.environ['PROMETHEUS_MULTIPROC_DIR'] = {str(tmp_path)!r}\n"
            "try:\n"
            "    import ssomw.telemetry.metrics\n"
            "    ssomw.telemetry.metrics.register(['wiki'])\n"
            "except RuntimeError as exc:\n"
            "    print('refused:', exc)\n")
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("refused: PROMETHEUS_MULTIPROC_DIR was set after"), \
        done.stdout + done.stderr
