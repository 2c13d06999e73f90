"""The broker's clients where administrators meet them: the admin API, explain, `ssomw broker
client add|list` — never with a secret hash; and the emergency login serves broker clients."""

from __future__ import annotations

from pathlib import Path

import yaml
from argon2 import PasswordHasher
from click.testing import CliRunner

from ssomw.cli import main
from ssomw.config import from_text
from tests.admin.conftest import config_with
from tests.broker.conftest import JIRA_CB, broker_config, jira_code

BROKER = {"issuer": "https://sso.example.com/sso", "clients": [
    {"client_id": "wiki-oidc", "client_secret_hash": PasswordHasher().hash("s"), "app": "wiki",
     "redirect_uris": ["https://wiki.example.com/cb"]}]}


def test_the_admin_api_lists_clients_without_their_hashes(make_gw, tmp_path):
    gw = make_gw(config_with(tmp_path, broker=BROKER))
    response = gw.api("GET", "/broker/clients", token="reader")
    assert response.status_code == 200
    body = response.json
    assert body["issuer"] == "https://sso.example.com/sso"
    assert body["clients"][0]["client_id"] == "wiki-oidc"
    assert body["clients"][0]["has_secret"] is True
    assert "argon2" not in response.get_data(as_text=True)
    assert gw.api("GET", "/broker/clients", token="auditor").status_code == 403
    assert gw.api("GET", "/broker/clients", token=None).status_code == 401
    assert "argon2" not in gw.api("GET", "/config", token="reader").get_data(as_text=True)


def test_explain_names_the_clients_an_app_decides_for(make_gw, tmp_path):
    gw = make_gw(config_with(tmp_path, broker=BROKER))
    body = gw.api("GET", "/explain?url=https://wiki.example.com/", token="reader").json
    assert body["app"]["broker_clients"] == ["wiki-oidc"]
    body = gw.api("GET", "/explain?url=https://desk.example.com/", token="reader").json
    assert body["app"]["broker_clients"] == []


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump(broker_config(tmp_path)))
    return path


def test_client_add_prints_the_secret_once_and_an_entry_with_its_hash(tmp_path):
    path = write_config(tmp_path)
    result = CliRunner().invoke(main, [
        "broker", "client", "add", "grafana", "--app", "jira", "-c", str(path),
        "--redirect-uri", "https://grafana.example.com/login/generic_oauth",
        "--backchannel-logout-uri", "https://grafana.example.com/bcl"])
    assert result.exit_code == 0, result.output
    secret = result.output.split("client_secret: ")[1].split()[0]
    entry = yaml.safe_load(result.output.split("# add under broker.clients:")[1])[0]
    assert entry["client_id"] == "grafana" and secret not in yaml.safe_dump(entry)
    assert PasswordHasher().verify(entry["client_secret_hash"], secret)
    raw = broker_config(tmp_path)
    raw["broker"]["clients"].append(entry)
    from_text(yaml.safe_dump(raw))  # the printed entry is a valid client


def test_client_add_refuses_bad_input(tmp_path):
    path = write_config(tmp_path)
    for args, why in [(["nope", "--app", "ghost", "--redirect-uri", "https://x.example/cb"],
                       "unknown app"),
                      (["jira", "--app", "jira", "--redirect-uri", "https://x.example/cb"],
                       "already configured"),
                      (["new", "--app", "jira", "--redirect-uri", "http://x.example/cb"],
                       "must be https")]:
        result = CliRunner().invoke(main, ["broker", "client", "add", *args, "-c", str(path)])
        assert result.exit_code == 2 and why in result.output, result.output
        assert "client_secret" not in result.output


def test_client_list(tmp_path):
    result = CliRunner().invoke(main, ["broker", "client", "list", "-c",
                                       str(write_config(tmp_path))])
    assert result.exit_code == 0 and "jira" in result.output and "public (PKCE)" in result.output
    assert "argon2" not in result.output


def test_an_emergency_session_serves_broker_clients(broker):
    """While the upstream provider is down the emergency login makes an ssomw session; the
    broker takes it like any other (the app's groups still decide)."""
    record, cookie = broker.runtime.sessions.create(
        user="ops", provider="emergency", sub="ops", sid=None,
        data={"groups": ["staff"], "auth_method": "emergency"})
    broker.client.set_cookie("ssomw_session", cookie, domain="sso.example.com")
    assert jira_code(broker)
    assert record.provider == "emergency" and JIRA_CB
