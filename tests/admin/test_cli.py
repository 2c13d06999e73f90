"""``ssomw config`` and ``ssomw token`` through click's CliRunner, against a gateway's store."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ssomw.cli.config import config, token

from .conftest import Gw, config_with

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def setup(tmp_path: Path, make_gw) -> tuple[Gw, Path]:
    raw = config_with(tmp_path)
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump(raw))
    return make_gw(raw), path


def run(group, *args: str, env: dict[str, str] | None = None, code: int = 0):
    result = CliRunner().invoke(group, list(args), env=env)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_token_create_list_revoke(setup):
    gw, path = setup
    created = run(token, "create", "-c", str(path), "--name", "ci", "--scopes",
                  "config:read,audit:read")
    secret = created.stdout.strip()
    assert secret.startswith("ssomw_") and "shown only now" in created.stderr
    assert gw.api("GET", "/config", token=secret).status_code == 200
    assert gw.api("GET", "/sessions", token=secret).status_code == 403

    listed = run(token, "list", "-c", str(path)).output
    line = next(row for row in listed.splitlines() if row.startswith("ci "))
    assert "audit:read,config:read" in line and "store" in line
    assert secret not in listed and "sha256" not in listed
    assert any(row.startswith("all ") and "config" in row for row in listed.splitlines())

    run(token, "create", "-c", str(path), "--name", "ci", "--scopes", "config:read", code=2)
    run(token, "revoke", "-c", str(path), "ci")
    assert gw.api("GET", "/config", token=secret).status_code == 401
    missing = run(token, "revoke", "-c", str(path), "ci", code=1)
    assert "no stored token" in missing.stderr
    assert "config file" in run(token, "revoke", "-c", str(path), "all", code=1).stderr


def test_token_for_config_prints_an_entry(setup):
    _, path = setup
    result = run(token, "create", "--name", "ops", "--scopes", "sessions:admin",
                 "--for-config", "-c", str(path))
    [entry] = yaml.safe_load(result.stderr.split("admin.tokens:\n", 1)[1])
    assert entry["name"] == "ops" and entry["hash"].startswith("sha256:")
    assert result.stdout.strip() not in result.stderr
    run(token, "create", "--name", "x", "--scopes", "nope", "-c", str(path), code=2)


def test_import_diff_is_one_line_per_changed_path_without_secrets(setup, tmp_path: Path):
    """Issue 16.10: no truncated JSON; an inserted app is an addition, not every app changed;
    a changed secret shows that it changed, never its value."""
    gw, path = setup
    raw = yaml.safe_load(path.read_text())
    raw["apps"].insert(0, {"id": "new", "hosts": ["new.example.com"]})
    raw["apps"][1]["rules"][1]["policy"] = "deny"
    raw["apps"][1]["rules"][1].pop("groups")
    raw["providers"][0]["client_secret"] = "rotated-client-secret-value"
    raw["session"]["secure"] = True
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(raw))
    lines = run(config, "import", "-c", str(path), str(edited), "--dry-run").output.splitlines()
    assert lines == [
        "+ apps[0].hosts: ['new.example.com']",
        "+ apps[0].id: 'new'",
        "- apps[1].rules[1].groups",
        "~ apps[1].rules[1].policy: 'authenticated' -> 'deny'",
        "~ providers[0].client_secret: *** -> ***",
        "~ session.secure: false -> true",
        "impact: 0 known user(s), 0 live session(s) looked at",
        "  nobody gains or loses access; no live session ends or changes",
        "dry run: valid; 6 change(s) against version 1",
    ]
    assert "rotated" not in "\n".join(lines) and "idp-client-secret" not in "\n".join(lines)


def test_import_dry_run_prints_who_gains_or_loses_access(setup, tmp_path: Path):
    """Contract §11: ``--dry-run`` names the users and live sessions a change affects."""
    gw, path = setup
    for user, groups in (("alice", ["agents"]), ("bob", ["staff"])):
        gw.runtime.sessions.create(user=user, provider="idp", sub=user, sid=None,
                                   data={"groups": groups})
    raw = yaml.safe_load(path.read_text())
    raw["apps"][1]["allowed_groups"] = ["staff"]
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(raw))
    out = run(config, "import", "-c", str(path), str(edited), "--dry-run").output
    assert "impact: 2 known user(s), 2 live session(s) looked at" in out
    assert "  user alice: loses desk" in out  # passthrough: the app's own login, no SSO
    assert "  user bob: gains desk" in out
    assert "of bob (idp): gains desk" in out
    assert gw.etag() == '"1"'


def test_export_import_rollback_versions(setup, tmp_path: Path):
    gw, path = setup
    out = tmp_path / "backup.json"
    run(config, "export", "-c", str(path), "-o", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc["secrets"] == "redacted" and doc["version"] == 1

    doc["config"]["apps"][0]["sso"] = False
    out.write_text(json.dumps(doc))
    dry = run(config, "import", "-c", str(path), str(out), "--dry-run").output
    assert "+ apps[0].sso: false" in dry and "dry run: valid; 1 change(s)" in dry
    assert gw.etag() == '"1"'
    applied = run(config, "import", "-c", str(path), str(out)).output
    assert "version 2 is active" in applied
    gw.reload()
    assert gw.auth("https://wiki.example.com/x") == 200

    history = run(config, "versions", "-c", str(path)).output
    assert "* " in history and "cli:" in history and "import" in history
    assert "version 3 is active" in run(config, "rollback", "-c", str(path), "1").output
    gw.reload()
    assert gw.auth("https://wiki.example.com/x") == 401
    assert "no configuration version 9" in run(config, "rollback", "-c", str(path), "9",
                                               code=1).stderr


def test_invalid_import_exits_2_with_every_error(setup, tmp_path: Path):
    gw, path = setup
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**gw.raw, "apps": [{"id": "Bad Id"}], "extra": 1}))
    result = run(config, "import", "-c", str(path), str(bad), code=2)
    assert "apps[0].hosts: is required" in result.stderr
    assert "extra: unknown key" in result.stderr
    assert gw.etag() == '"1"'


def test_encrypted_export_and_import(setup, tmp_path: Path):
    gw, path = setup
    out = tmp_path / "backup.json"
    env = {"SSOMW_EXPORT_PASSPHRASE": PASSPHRASE}
    run(config, "export", "-c", str(path), "--secrets", "encrypt", "-o", str(out), env=env)
    assert "idp-client-secret-value" not in out.read_text()
    wrong = run(config, "import", "-c", str(path), str(out),
                env={"SSOMW_EXPORT_PASSPHRASE": "a wrong passphrase"}, code=1)
    assert "passphrase does not decrypt" in wrong.stderr
    result = run(config, "import", "-c", str(path), str(out), "--dry-run", env=env)
    assert "0 change(s)" in result.output


def test_file_source_refuses_import(tmp_path: Path):
    raw = config_with(tmp_path)
    raw["admin"]["config_source"] = "file"
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = run(config, "import", "-c", str(path), str(path), code=1)
    assert "config_source is file" in result.stderr
