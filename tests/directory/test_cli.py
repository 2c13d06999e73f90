"""`ssomw ldap sync` with a real config file: summary, dry run, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ssomw.cli import main
from ssomw.directory.sync import LOCK
from ssomw.identity.users import load_user
from ssomw.store.sqlite import SqliteStore
from tests.support.slapd import Slapd, directory_settings

BASE = {"session": {"secret_keys": ["k" * 40]},
        "providers": [{"id": "p", "issuer": "https://idp.example.com", "client_id": "c",
                       "client_secret": "s"}],
        "apps": [{"id": "a", "hosts": ["a.example.com"]}]}


@pytest.fixture
def run(tmp_path: Path):
    def invoke(directory: dict | None, *args: str):
        config = {**BASE, "store": {"backend": "sqlite", "path": str(tmp_path / "store.db")},
                  "directory": {"ldap": directory} if directory else {}}
        path = tmp_path / "ssomw.yaml"
        path.write_text(yaml.safe_dump(config))
        return CliRunner().invoke(main, ["ldap", "sync", "-c", str(path), *args])

    return invoke


def ldap(slapd: Slapd, **overrides) -> dict:
    settings = directory_settings(slapd, **overrides)
    settings.pop("attributes")
    return settings


def test_sync_stores_groups_and_prints_a_summary(run, slapd: Slapd, tmp_path: Path) -> None:
    result = run(ldap(slapd))
    assert result.exit_code == 0, result.output
    assert "11 users, 6 groups seen; changed 7 users (+13 / -0 memberships)" in result.output
    record = load_user(SqliteStore(str(tmp_path / "store.db")), "carol")
    assert record is not None and record.ldap_groups == ["backend", "engineering", "staff"]
    again = run(ldap(slapd))
    assert "changed 0 users" in again.output


def test_dry_run_changes_nothing(run, slapd: Slapd, tmp_path: Path) -> None:
    result = run(ldap(slapd), "--dry-run")
    assert result.exit_code == 0 and "dry run: 11 users, 6 groups seen; would change 7 users" \
        in result.output
    assert load_user(SqliteStore(str(tmp_path / "store.db")), "carol") is None


def test_unreachable_directory_exits_1(run, own_slapd: Slapd) -> None:
    own_slapd.stop()
    result = run(ldap(own_slapd, timeout=1))
    assert result.exit_code == 1 and "directory sync failed" in result.output


def test_locked_exits_3(run, slapd: Slapd, tmp_path: Path) -> None:
    SqliteStore(str(tmp_path / "store.db")).kv_add(*LOCK, b"x", 60)
    result = run(ldap(slapd))
    assert result.exit_code == 3 and "another run holds the lock" in result.output


def test_no_directory_configured_exits_2(run) -> None:
    result = run(None)
    assert result.exit_code == 2 and "no directory.ldap" in result.output
