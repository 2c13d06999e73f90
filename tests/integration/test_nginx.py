"""The shipped nginx snippets are exactly what `ssomw nginx` renders, and nginx accepts them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ssomw.config import from_text, load_config
from ssomw.integration.nginx import full_config, protect_snippet, server_snippet
from tests.support.net import free_port
from tests.support.nginx import Nginx

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {"session": {"secret_keys": ["k" * 40]},
           "providers": [{"id": "p", "issuer": "https://idp.example.com", "client_id": "c",
                          "client_secret": "s"}],
           "apps": [{"id": "a", "hosts": ["a.example.com"]}]}
EXAMPLE_ENV = {"SSOMW_SESSION_KEY": "k" * 40, "SSOMW_CORP_SECRET": "x"}


def test_shipped_snippets_match_the_default_rendering():
    config = from_text(yaml.safe_dump(MINIMAL))
    assert (REPO / "nginx/ssomw-server.conf").read_text() == server_snippet(config)
    assert (REPO / "nginx/ssomw-protect.conf").read_text() == protect_snippet(config)


def test_custom_names_reach_the_rendered_snippets():
    config = from_text(yaml.safe_dump({
        **MINIMAL, "server": {"path_prefix": "/auth-gw"},
        "session": {"secret_keys": ["k" * 40], "name": "gw"},
        "headers": {"user": "Remote-User"}}))
    server, protect = server_snippet(config), protect_snippet(config)
    assert "location ^~ /auth-gw/" in server and "$cookie_gw|" in server
    assert "proxy_set_header Remote-User $ssomw_remote_user;" in protect


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "include-files"])
def test_nginx_accepts_the_generated_config(tmp_path: Path, inline: bool):
    config = load_config(REPO / "conf/ssomw.example.yaml", env=EXAMPLE_ENV)
    port = free_port()
    text = full_config(config, gateway="127.0.0.1:4180", listen=f"127.0.0.1:{port}",
                       cache_path=str(tmp_path / "cache"),
                       snippet_dir=None if inline else str(REPO / "nginx"))
    nginx = Nginx(tmp_path / "nginx", text, listen_ports=[port])
    nginx.start()  # runs `nginx -t` first and raises with nginx's own message
    nginx.stop()


def test_nginx_command_prints_only_the_requested_app(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "apps": [
        {"id": "a", "hosts": ["a.example.com"]}, {"id": "b", "hosts": ["b.example.com"]}]}))
    result = subprocess.run([sys.executable, "-m", "ssomw.cli", "nginx", "-c", str(path),
                             "--app", "b"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "server_name b.example.com;" in result.stdout
    assert "a.example.com" not in result.stdout
