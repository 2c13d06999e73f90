"""``ssomw serve``'s metrics directory: fresh per server, emptied at start, removed at exit."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ssomw.cli import serve


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """prepare_metrics_dir writes os.environ itself: start without the variables and give the
    test a copy, so nothing leaks into later tests (metrics would switch to multiprocess)."""
    environ = {k: v for k, v in serve.os.environ.items()
               if k not in (serve.METRICS_DIR_ENV, serve.PREPARED_ENV)}
    monkeypatch.setattr(serve.os, "environ", environ)
    monkeypatch.setattr(serve, "_made_metrics_dir", [])


def test_without_a_directory_a_private_one_is_made_and_removed_at_exit(monkeypatch, tmp_path):
    monkeypatch.setattr(serve.tempfile, "tempdir", str(tmp_path))
    path = Path(serve.prepare_metrics_dir())
    assert path.is_dir() and path.parent == tmp_path and oct(path.stat().st_mode)[-3:] == "700"
    assert serve.os.environ[serve.METRICS_DIR_ENV] == str(path)
    assert serve.prepare_metrics_dir() == str(path)  # a config reload keeps it
    serve.on_exit(SimpleNamespace(reexec_pid=0))
    assert not path.exists()


def test_an_operator_directory_is_emptied_once_and_kept(monkeypatch, tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"old run")
    (tmp_path / "notes.txt").write_text("not ours")
    monkeypatch.setenv(serve.METRICS_DIR_ENV, str(tmp_path))
    assert serve.prepare_metrics_dir() == str(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "counter_456.db").write_bytes(b"this run")
    serve.prepare_metrics_dir()  # SIGHUP re-reads gunicorn.conf.py: the counts stay
    serve.on_exit(SimpleNamespace(reexec_pid=0))
    assert (tmp_path / "counter_456.db").exists()


def test_a_reexecuted_master_keeps_the_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(serve.tempfile, "tempdir", str(tmp_path))
    path = Path(serve.prepare_metrics_dir())
    serve.on_exit(SimpleNamespace(reexec_pid=4242))  # USR2: the new master carries on
    assert path.is_dir()


def test_child_exit_is_harmless_without_metrics_directory():
    serve.child_exit(None, SimpleNamespace(pid=99999))


def test_gunicorn_gets_the_hooks():
    options = serve.default_options()
    assert options["child_exit"] is serve.child_exit and options["on_exit"] is serve.on_exit
