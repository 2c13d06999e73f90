"""A real ``ssomw serve`` (gunicorn) at start: what it prints, what it does with an edited
file (issue 16.6), a busy port, ``--version``, and ``ssomw sessions list`` (issue 16.10)."""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from ssomw.config import section_defaults
from ssomw.store import SessionRecord, open_store
from tests.support.gateway import GatewayProcess, ssomw_executable
from tests.support.net import free_port

SESSION_KEY = "serve-start-session-key-" + "k" * 24
CLIENT_SECRET = "serve-start-client-secret-value"


def base_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "store": {"path": str(tmp_path / "gw" / "ssomw.db")},
        "session": {"secret_keys": [SESSION_KEY], "secure": False},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                       "client_secret": CLIENT_SECRET}],
        "apps": [{"id": "wiki", "hosts": ["wiki.example.com"]}],
        "logging": {"format": "json"},
    }


def ssomw(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([ssomw_executable(), *args], capture_output=True, text=True,
                          timeout=timeout)


def auth(gateway: GatewayProcess) -> int:
    return requests.get(f"{gateway.url}/sso/auth", timeout=5, headers={
        "X-Original-URL": "https://wiki.example.com/page", "Accept": "application/json",
    }).status_code


def plain_lines(gateway: GatewayProcess) -> list[str]:
    """The console lines of the log (not the JSON log records)."""
    return [line for line in gateway.log_text().splitlines() if not line.startswith("{")]


@pytest.fixture
def gateway(tmp_path: Path):
    gw = GatewayProcess(tmp_path / "gw", base_config(tmp_path), workers=1)
    yield gw
    gw.close()


def test_serve_says_where_it_listens_and_what_it_runs(gateway: GatewayProcess):
    gateway.start()
    lines = plain_lines(gateway)
    assert re.fullmatch(rf"ssomw \S+ listening on http://{gateway.bind} \(1 worker\)",
                        lines[-3]), lines
    assert lines[-2] == (f"  config: {gateway.config_path}, active version 1 "
                         "(admin.config_source: store)")
    assert lines[-1] == f"  store:  sqlite {gateway.workdir / 'ssomw.db'}"
    assert f"ssomw: configuration version 1 seeded from {gateway.config_path}" in lines
    text = gateway.log_text()
    assert SESSION_KEY not in text and CLIENT_SECRET not in text


def test_an_edited_file_is_applied_at_restart_and_a_later_change_is_never_undone(
        gateway: GatewayProcess, tmp_path: Path):
    gateway.start()
    assert auth(gateway) == 401
    edited = copy.deepcopy(gateway.config)
    edited["apps"][0]["sso"] = False
    gateway.update_config(edited)  # writes the file and restarts
    assert auth(gateway) == 200
    path = gateway.config_path
    assert (f"ssomw: {path} changed since it was last applied: it is now configuration "
            f"version 2 (replacing version 1; `ssomw config rollback 1` brings that back)"
            ) in plain_lines(gateway)

    # A rollback through the CLI is a later change than the file: a restart keeps it, and
    # says so on the console, with the command that applies the file.
    assert ssomw("config", "rollback", "1", "-c", str(path)).returncode == 0
    gateway.restart()
    assert auth(gateway) == 401
    news = (f"ssomw: {path} differs from the active configuration version 3, which stays in "
            f"force: the file is version 2, changed since through the API, the CLI or a "
            f"rollback. To apply the file: ssomw config import {path}")
    assert news in plain_lines(gateway)
    checked = ssomw("check", "-c", str(path))
    assert checked.returncode == 0
    assert (f"warning: {path} differs from the active configuration version 3, which stays "
            f"in force at the next start") in checked.stderr
    assert f"To apply the file: ssomw config import {path}" in checked.stderr

    # A new edit is applied again; `check` says it will be before the restart.
    edited["apps"][0]["name"] = "The wiki"
    gateway.config = edited
    gateway.write_config()
    checked = ssomw("check", "-c", str(path))
    assert (f"note: {path} differs from the active configuration version 3; `ssomw serve` "
            f"applies it as a new version at start") in checked.stderr
    gateway.restart()
    assert auth(gateway) == 200
    assert any("it is now configuration version 4" in line for line in plain_lines(gateway))


def test_a_busy_port_is_one_clear_line_and_exit_1(tmp_path: Path):
    config = GatewayProcess(tmp_path / "gw", base_config(tmp_path))
    config.write_config()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = ssomw("serve", "-c", str(config.config_path), "--bind", f"127.0.0.1:{port}")
    assert result.returncode == 1 and time.monotonic() - started < 10
    assert result.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the address is already in use (another "
        "ssomw, or another server, listens there); stop it or choose another with --bind "
        "HOST:PORT"]
    assert not (tmp_path / "gw" / "ssomw.db").exists()  # nothing started, nothing seeded


def test_version_option():
    result = ssomw("--version")
    assert result.returncode == 0 and re.fullmatch(r"ssomw \S+\n", result.stdout)


def test_sessions_list_shows_the_sid_and_the_json_says_expires(tmp_path: Path):
    config = GatewayProcess(tmp_path / "gw", base_config(tmp_path), port=free_port())
    config.write_config()
    store = open_store(section_defaults("store", config.config["store"]))
    now = time.time()
    store.put_session(SessionRecord("s-1", "ann", "idp", "sub-1", "idp-sid-42", now - 60,
                                    now - 30, now + 3600), idle_timeout=3600)
    store.close()
    table = ssomw("sessions", "list", "-c", str(config.config_path)).stdout.splitlines()
    assert table[0].split() == ["ID", "USER", "PROVIDER", "SID", "SIGNED", "IN", "LAST",
                                "SEEN", "EXPIRES"]
    assert table[1].split()[:4] == ["s-1", "ann", "idp", "idp-sid-42"]
    [line] = ssomw("sessions", "list", "--json", "-c",
                   str(config.config_path)).stdout.splitlines()
    record = json.loads(line)
    assert record["sid"] == "idp-sid-42" and "ends" not in record
    assert record["expires"] == pytest.approx(now - 30 + 3600, abs=1)  # idle end comes first
