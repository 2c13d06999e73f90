"""``ssomw check`` as an operator runs it: secrets never printed, every error at once, the
session cookie's reach, and how the file stands against the store's active version."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ssomw.cli import main
from ssomw.config.schema import SECRET_KEYS

REPO = Path(__file__).resolve().parents[2]
MARK = "S3cr3t-Marker-q8"          # 16 characters: what must never be printed
BASE: dict[str, Any] = {
    "session": {"secret_keys": ["k" * 40]},
    "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "c",
                   "client_secret": "c-secret"}],
    "apps": [{"id": "a", "hosts": ["a.example.com"]}],
}


def config(tmp_path: Path, **sections: Any) -> Path:
    data = copy.deepcopy(BASE)
    for key, value in sections.items():
        merge = isinstance(value, dict) and isinstance(data.get(key), dict)
        data[key] = {**data[key], **value} if merge else value
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", "-c", str(path)])
    return result.exit_code, result.stdout + result.stderr


def provider(**extra: Any) -> list[dict[str, Any]]:
    return [{**BASE["providers"][0], **extra}]


# Every key the schema and the export treat as secret, given a value the schema refuses.
SECRETS = [
    pytest.param({"session": {"secret_keys": [MARK]}}, "session.secret_keys[0]",
                 "16 characters", id="secret_keys-too-short"),
    pytest.param({"session": {"secret_keys": MARK}}, "session.secret_keys",
                 "not a string of 16 characters", id="secret_keys-not-a-list"),
    pytest.param({"providers": provider(client_secret=[MARK])}, "providers[0].client_secret",
                 "must be a string, not a list", id="client_secret-wrong-type"),
    pytest.param({"providers": {"id": "idp", "client_secret": MARK}}, "providers",
                 "must be a list, not a mapping", id="client_secret-inside-a-wrong-type"),
    pytest.param({"directory": {"ldap": {"url": "ldap://dir", "user_base": "dc=x",
                                         "bind_password": {"value": MARK}}}},
                 "directory.ldap.bind_password", "must be a string, not a mapping",
                 id="bind_password-wrong-type"),
    pytest.param({"directory": {"ldap": {"url": "ldap://dir", "user_base": "dc=x",
                                         "password": MARK}}},
                 "directory.ldap.password", "unknown key", id="password-misplaced"),
    pytest.param({"emergency": {"local_users": [{"username": "a", "hash": MARK}]}},
                 "emergency.local_users[0].hash",
                 "a value of 16 characters has an invalid format", id="hash-not-argon2"),
    pytest.param({"admin": {"tokens": [{"name": "ci", "hash": MARK, "scopes": ["audit:read"]}]}},
                 "admin.tokens[0].hash", "is too short: 16 characters, at least 20",
                 id="token-hash-too-short"),
    pytest.param({"admin": {"tokens": MARK}}, "admin.tokens",
                 "must be a list, not a string of 16 characters", id="token-pasted-as-list"),
    pytest.param({"broker": {"issuer": "https://sso.example.com/sso", "clients": [
        {"client_id": "c", "client_secret_hash": MARK, "app": "x",
         "redirect_uris": ["https://a.example.com/cb"]}]}},
                 "broker.clients[0].client_secret_hash",
                 "a value of 16 characters has an invalid format",
                 id="client_secret_hash-not-argon2"),
]


def test_the_table_covers_every_secret_key():
    covered = {p.id.split("-")[0] for p in SECRETS}
    assert set(SECRET_KEYS) <= covered | {"token"}, set(SECRET_KEYS) - covered


@pytest.mark.parametrize(("sections", "path", "says"), SECRETS)
def test_check_never_prints_a_secret_value(tmp_path: Path, sections, path, says):
    code, out = check(config(tmp_path, **sections))
    assert code == 2
    assert f"{path}: " in out and says in out, out
    assert MARK not in out and MARK[:8] not in out


def test_check_reports_all_four_kinds_of_error_in_one_run(tmp_path: Path):
    """Issue 16.13: a bad regex, an unknown key, a wrong type and an unknown provider."""
    path = config(tmp_path, session={"idle_timout": "30m", "secure": "yes"},
                  apps=[{"id": "a", "hosts": ["a.example.com"], "providers": ["nope"],
                         "rules": [{"paths": ["(["], "policy": "bypass"}]}])
    result = subprocess.run([sys.executable, "-m", "ssomw.cli", "check", "-c", str(path)],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert [line.split(":")[0] for line in lines] == [
        "apps[0].providers[0]", "apps[0].rules[0].paths[0]", "session.idle_timout",
        "session.secure"], result.stderr
    assert "did you mean 'idle_timeout'?" in result.stderr
    assert "must be true or false, not 'yes'" in result.stderr


def test_check_refuses_a_public_url_the_cookie_cannot_leave(tmp_path: Path):
    """Issue 16.3: sign-in on sso.example.com without session.domain loops for app hosts."""
    path = config(tmp_path, server={"public_url": "https://sso.example.com"},
                  apps=[{"id": "a", "hosts": ["a.example.com"]},
                        {"id": "b", "hosts": ["b.example.com"]},
                        {"id": "same", "hosts": ["sso.example.com"], "path_prefix": "/same"},
                        {"id": "open", "hosts": ["elsewhere.example.org"], "sso": False}])
    code, out = check(path)
    assert code == 2
    assert ("server.public_url: sign-in ends on sso.example.com, and without session.domain "
            "the session cookie goes back to sso.example.com only: a.example.com, "
            "b.example.com would never receive it") in out
    assert "set session.domain: example.com" in out and "elsewhere" not in out
    fixed = config(tmp_path, server={"public_url": "https://sso.example.com"},
                   session={"domain": "example.com"},
                   apps=[{"id": "a", "hosts": ["a.example.com", "*.apps.example.com"]}])
    code, out = check(fixed)
    assert code == 0, out


@pytest.mark.parametrize("sections", [
    pytest.param({"server": {"public_url": "https://a.example.com"}}, id="public-is-the-app"),
    pytest.param({}, id="no-public-url-no-domain"),
    pytest.param({"session": {"domain": ".example.com"}}, id="leading-dot-domain"),
    pytest.param({"session": {"domain": "a.example.com"}}, id="domain-is-the-host"),
    pytest.param({"apps": [{"id": "a", "hosts": ["a.example.com"]},
                           {"id": "b", "hosts": ["b.example.org"], "sso": False}],
                  "session": {"domain": "example.com"}}, id="sso-off-app-outside"),
])
def test_check_accepts_cookie_settings_that_work(tmp_path: Path, sections):
    code, out = check(config(tmp_path, **sections))
    assert code == 0, out


def test_check_spells_booleans_as_yaml_does(tmp_path: Path):
    """Issue 16.8: the registration list said `True`."""
    code, out = check(config(tmp_path))
    assert code == 0
    assert "backchannel_logout_session_required: true" in out and "True" not in out
