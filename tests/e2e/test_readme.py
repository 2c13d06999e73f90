"""The README's "Protect one app in five minutes", run as written (issue 16.11).

The config, the `ssomw check` output, the snippet command and the conf.d file are read from the
README's tested blocks; only what the README names as the reader's own changes: the provider's
issuer, ports, file paths and the secrets (given as the environment variables it names). The
provider is registered with exactly what `ssomw check` prints, the browser signs in over HTTPS
through nginx, and the app receives the identity.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.gateway import GatewayProcess, ssomw_executable
from tests.support.net import free_port
from tests.support.nginx import Nginx
from tests.support.oidc_provider import OidcProvider
from tests.support.readme import readme_block, substitute
from tests.support.resolve import loopback_names
from tests.support.signin import sign_in
from tests.support.tls import self_signed
from tests.support.upstream import EchoApp

HOST = "wiki.example.com"
ENV = {"SSOMW_SESSION_KEY": "readme-session-key-0123456789abcdef0123456789",
       "SSOMW_CLIENT_SECRET": "readme-client-secret-0123456789"}


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **ENV})


def registration(check_output: str) -> dict[str, str]:
    """`  key: value` lines after "Register at provider": what the user copies to the provider."""
    _, _, lines = check_output.partition("Register at provider")
    pairs = (line.strip().split(": ", 1) for line in lines.splitlines()[1:] if ": " in line)
    return {key: value for key, value in pairs}


class FiveMinutes:
    """The set-up of the README section, on free ports in ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.provider = OidcProvider(workdir / "provider")
        self.app = EchoApp("wiki")
        self.parts: list = [self.app]
        self.config_path = workdir / "gateway" / "ssomw.yaml"

    def url(self, path: str = "/") -> str:
        return f"https://{HOST}:{self.port}{path}"

    def start(self) -> FiveMinutes:
        # 1. The configuration, with the provider's issuer and the store's path replaced.
        text = substitute(readme_block("five-minutes/config"), {
            "https://login.example.com/realms/corp": self.provider.issuer,
            "/var/lib/ssomw/ssomw.db": str(self.workdir / "ssomw.db")})
        self.gateway = GatewayProcess(self.workdir / "gateway", yaml.safe_load(text), env=ENV)
        self.gateway.write_config()
        # 2. `ssomw check` prints what the README shows; register exactly that at the provider.
        check = run([ssomw_executable(), "check", "-c", str(self.config_path)])
        assert check.returncode == 0, check.stdout + check.stderr
        self.check_output = check.stdout
        printed = registration(check.stdout)
        on_port = {key: value.replace(f"https://{HOST}/", f"https://{HOST}:{self.port}/")
                   for key, value in printed.items()}
        self.provider.clients = [{
            "client_id": "ssomw", "client_secret": ENV["SSOMW_CLIENT_SECRET"],
            "redirect_uris": [on_port["redirect_uris"]],
            "post_logout_redirect_uris": [on_port["post_logout_redirect_uris"]],
            "backchannel_logout_uri": on_port["backchannel_logout_uri"],
            "token_endpoint_auth_method": on_port["token_endpoint_auth_method"]}]
        self.parts.append(self.provider.start())
        # 4. `ssomw serve`.
        self.parts.append(self.gateway.start())
        # 3. The snippet files, by the README's command; then its conf.d file.
        snippets = self.workdir / "nginx-snippets"
        command = substitute(readme_block("five-minutes/snippets"), {
            "/etc/ssomw/ssomw.yaml": str(self.config_path), "/etc/nginx/ssomw": str(snippets)})
        argv = shlex.split(command, comments=True)
        assert argv[:2] == ["ssomw", "nginx"], argv
        written = run([ssomw_executable(), *argv[1:]])
        assert written.returncode == 0, written.stderr
        cert, key = self_signed(self.workdir / "tls", HOST)
        self.cert = cert
        conf = substitute(readme_block("five-minutes/nginx"), {
            "server 127.0.0.1:4180;": f"server {self.gateway.bind};",
            "/var/cache/nginx/ssomw": str(self.workdir / "nginx-cache"),
            "/etc/nginx/ssomw/": f"{snippets}/",
            "listen 443 ssl;": f"listen 127.0.0.1:{self.port} ssl;",
            "/etc/ssl/wiki.example.com.crt": str(cert),
            "/etc/ssl/wiki.example.com.key": str(key),
            "proxy_pass http://127.0.0.1:8080;": f"proxy_pass {self.app.url};"})
        self.nginx = Nginx(self.workdir / "nginx", conf, listen_ports=[self.port])
        self.parts.append(self.nginx.start())
        return self

    def stop(self) -> None:
        for part in reversed(self.parts):
            part.stop()


@pytest.fixture(scope="module")
def five_minutes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FiveMinutes]:
    setup = FiveMinutes(tmp_path_factory.mktemp("five-minutes"))
    try:
        setup.start()
        with loopback_names(HOST):
            yield setup
    finally:
        setup.stop()


def test_check_prints_what_the_readme_shows(five_minutes: FiveMinutes):
    shown = substitute(readme_block("five-minutes/check"),
                       {"/etc/ssomw/ssomw.yaml": str(five_minutes.config_path)})
    printed = {line.rstrip().lower() for line in five_minutes.check_output.splitlines()}
    missing = [line for line in shown.splitlines()
               if line.strip() and line.rstrip().lower() not in printed]
    assert not missing, f"the README shows lines `ssomw check` does not print: {missing}"


def test_a_user_signs_in_through_nginx_and_the_app_gets_the_identity(five_minutes: FiveMinutes):
    with requests.Session() as browser:
        browser.trust_env = False  # else $REQUESTS_CA_BUNDLE would replace `verify`
        browser.verify = str(five_minutes.cert)
        response = sign_in(browser, five_minutes.url("/some/page"), "alice", "test-password")
        assert response.status_code == 200, getattr(response, "trail", response.url)
        echo = response.json()
        assert (echo["app"], echo["path"]) == ("wiki", "/some/page")
        headers = {k.lower(): v for k, v in echo["headers"].items()}
        assert headers["x-auth-request-user"] == "alice@corp"  # <sub>@corp, as the README says
        assert headers["x-auth-request-email"] == "alice@example.com"
        assert headers["x-auth-request-name"] == "Alice Example"
        again = browser.get(five_minutes.url("/next"), headers={"Accept": "application/json"})
        assert again.status_code == 200 and again.json()["path"] == "/next"
    anonymous = requests.get(five_minutes.url("/x"), verify=str(five_minutes.cert),
                             headers={"Accept": "application/json"}, allow_redirects=False)
    # (an explicit `verify` argument wins over $REQUESTS_CA_BUNDLE)
    assert anonymous.status_code == 401
