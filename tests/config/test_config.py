"""Configuration: every error with its path, secrets from env and files, defaults, examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssomw.config import ConfigInvalid, from_text, load_config

REPO = Path(__file__).resolve().parents[2]
KEY = "k" * 40
BASE: dict[str, Any] = {
    "session": {"secret_keys": [KEY]},
    "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "c",
                   "client_secret": "c-secret"}],
    "apps": [{"id": "a", "hosts": ["a.example.com"]}],
}
CASES = yaml.safe_load((REPO / "tests/data/config_errors.yaml").read_text())


def merged(patch: dict[str, Any]) -> dict[str, Any]:
    out = {**BASE}
    for key, value in patch.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and key in out else value
    return out


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES])
def test_invalid_config_reports_every_error_with_its_path(case: dict[str, Any]):
    with pytest.raises(ConfigInvalid) as info:
        from_text(yaml.safe_dump(merged(case["patch"])))
    found = {e.path: e.message for e in info.value.errors}
    for path, fragment in case["errors"].items():
        assert path in found, f"{path} missing from {found}"
        assert fragment in found[path]
    assert len(found) == len(case["errors"]), found
    for spelling in case.get("absent", []):  # Python's spelling of a YAML value
        assert not any(str(spelling) in message for message in found.values()), found


def test_defaults_are_filled_and_durations_normalised():
    config = from_text(yaml.safe_dump(BASE))
    assert config.prefix == "/sso"
    assert config["session"]["idle_timeout"] == 3600.0
    assert config["session"]["max_lifetime"] == 12 * 3600.0
    assert config["headers"]["user"] == "X-Auth-Request-User"
    assert config["providers"][0]["token_auth"] == "client_secret_basic"
    assert config["providers"][0]["pkce"] is True
    assert config["store"]["backend"] == "sqlite"


def test_secrets_come_from_env_and_files(tmp_path: Path):
    (tmp_path / "secret").write_text("s3cret\n")
    (tmp_path / "keys").write_text(f"{'n' * 40}\n{'o' * 40}\n")
    data = merged({"session": {"secret_keys_file": "keys"}})
    del data["session"]["secret_keys"]
    data["providers"] = [{"id": "idp", "issuer": "https://idp.example.com",
                          "client_secret_file": str(tmp_path / "secret"),
                          "client_id": "${CLIENT_ID}"}]
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump(data))
    config = load_config(path, env={"CLIENT_ID": "from-env"})
    provider = config["providers"][0]
    assert (provider["client_id"], provider["client_secret"]) == ("from-env", "s3cret")
    assert config["session"]["secret_keys"] == ["n" * 40, "o" * 40]


def test_missing_env_and_secret_file_are_reported_together(tmp_path: Path):
    data = merged({})
    data["providers"] = [{"id": "idp", "issuer": "https://idp.example.com",
                          "client_id": "${NOPE}", "client_secret_file": str(tmp_path / "absent")}]
    with pytest.raises(ConfigInvalid) as info:
        from_text(yaml.safe_dump(data), env={})
    paths = {e.path for e in info.value.errors}
    assert paths == {"providers[0].client_id", "providers[0].client_secret_file"}


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    with pytest.raises(ConfigInvalid) as info:
        from_text("session:\n  secret_keys: [unclosed\n")
    assert info.value.errors[0].path.startswith("line ")


def run_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssomw.cli", "check", *args],
                          capture_output=True, text=True, env=env, cwd=REPO)


def test_check_command_exit_codes(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(BASE))
    assert run_check("-c", str(good)).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(merged({"server": {"bogus": 1, "path_prefix": "x"}})))
    result = run_check("-c", str(bad))
    assert result.returncode == 2
    assert "server.bogus: unknown key" in result.stderr
    assert "server.path_prefix:" in result.stderr


@pytest.mark.parametrize("patch, field", [
    pytest.param({"store": {"backend": "redis", "url": "http://:check-pw-777@cache"}},
                 "store.url", id="pattern"),
    pytest.param({"directory": {"ldap": {"url": "ldap://u:check-pw-777@dir", "user_base": 1}}},
                 "directory.ldap.user_base", id="other-field-of-the-section"),
    pytest.param({"store": {"backend": "redis", "url": ["redis://:check-pw-777@cache"]}},
                 "store.url", id="type"),
])
def test_check_never_prints_a_url_password(tmp_path: Path, patch, field):
    """Item 3 of issue 14: errors quote the value, and logs and `ssomw check` print errors."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(merged(patch)))
    result = run_check("-c", str(bad))
    assert result.returncode == 2 and f"{field}:" in result.stderr
    assert "check-pw-777" not in result.stdout + result.stderr


def test_check_prints_registration_urls_without_credentials(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(merged({
        "server": {"public_url": "https://ops:check-pw-777@sso.example.com"},
        "session": {"domain": "example.com"}})))
    result = run_check("-c", str(good))
    assert result.returncode == 0, result.stderr
    assert "https://ops:***@sso.example.com/sso/callback" in result.stdout
    assert "check-pw-777" not in result.stdout + result.stderr


def test_shipped_example_config_is_valid():
    env = {"SSOMW_SESSION_KEY": KEY, "SSOMW_CORP_SECRET": "x"}
    config = load_config(REPO / "conf/ssomw.example.yaml", env=env)
    assert config["apps"][0]["id"] == "jira"


def test_check_warns_that_min_response_time_is_ignored(tmp_path: Path):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(merged({"emergency": {"min_response_time": 1.0}})))
    result = run_check("-c", str(path))
    assert result.returncode == 0
    assert "warning: emergency.min_response_time: deprecated and ignored" in result.stderr
    path.write_text(yaml.safe_dump(BASE))
    assert "min_response_time" not in run_check("-c", str(path)).stderr


def test_a_rule_step_up_max_age_is_a_duration():
    rule = {"paths": ["^/admin/"], "policy": "authenticated", "max_age": "10m", "acr": ["mfa"]}
    config = from_text(yaml.safe_dump(merged({"apps": [{**BASE["apps"][0], "rules": [rule]}]})))
    assert config["apps"][0]["rules"][0]["max_age"] == 600.0
    needs = config.policy.match(config.policy.apps[0], "GET", "/admin/", "").assurance
    assert needs is not None and needs.auth_params() == {"acr_values": "mfa", "max_age": "600"}
