"""The nginx side: the shipped snippets are the default rendering, and `nginx -t` accepts
exactly what `ssomw nginx` prints and exactly what the README tells a user to write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ssomw.config import from_text
from ssomw.config.schema import STRIP_DEFAULT
from ssomw.integration.nginx import SNIPPETS, full_config, snippet_files
from tests.support.nginx import Nginx
from tests.support.readme import readme_block, substitute
from tests.support.tls import self_signed

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {"session": {"secret_keys": ["k" * 40]},
           "providers": [{"id": "p", "issuer": "https://idp.example.com", "client_id": "c",
                          "client_secret": "s"}],
           "apps": [{"id": "a", "hosts": ["a.example.com"]}]}
EXAMPLE_ENV = {"SSOMW_SESSION_KEY": "k" * 40, "SSOMW_CORP_SECRET": "x"}


def ssomw_nginx(config: Path, *args: str, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ssomw.cli", "nginx", "-c", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def nginx_t(workdir: Path, conf_d_file: str) -> None:
    """`nginx -t` on a conf.d file as nginx includes it (inside http {}); raises with nginx's
    own message."""
    Nginx(workdir, conf_d_file).check_config()


def write_config(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_snippets_match_the_default_rendering():
    rendered = snippet_files(from_text(yaml.safe_dump(MINIMAL)))
    assert sorted(rendered) == sorted(SNIPPETS)
    for name, text in rendered.items():
        assert (REPO / "nginx" / name).read_text() == text, name


def test_example_config_lists_the_default_strip_headers():
    config = yaml.safe_load((REPO / "conf/ssomw.example.yaml").read_text())
    assert config["headers"]["strip"] == STRIP_DEFAULT


def test_custom_names_reach_the_rendered_snippets():
    config = from_text(yaml.safe_dump({
        **MINIMAL, "server": {"path_prefix": "/auth-gw"},
        "session": {"secret_keys": ["k" * 40], "name": "gw"},
        "headers": {"user": "Remote-User", "strip": ["X-Secret-Role", "Remote-User"]}}))
    files = snippet_files(config)
    server, protect = files["ssomw-server.conf"], files["ssomw-protect.conf"]
    assert "location ^~ /auth-gw/" in server and "$cookie_gw|" in server
    assert "map $cookie_gw $ssomw_phase" in files["ssomw-http.conf"]
    assert "proxy_set_header Remote-User $ssomw_remote_user;" in protect
    assert 'proxy_set_header X-Secret-Role "";' in protect
    assert 'proxy_set_header Remote-User "";' not in protect  # set, so not cleared as well


def test_readme_hand_written_nginx_passes_nginx_t_with_the_shipped_snippets(tmp_path: Path):
    """What the README tells a user to write, with the files in nginx/, as nginx reads it."""
    cert, key = self_signed(tmp_path / "tls", "wiki.example.com")
    text = substitute(readme_block("five-minutes/nginx"), {
        "/etc/nginx/ssomw/": f"{REPO}/nginx/",
        "/var/cache/nginx/ssomw": str(tmp_path / "cache"),
        "/etc/ssl/wiki.example.com.crt": str(cert),
        "/etc/ssl/wiki.example.com.key": str(key),
    })
    nginx_t(tmp_path / "nginx", text)


def test_snippet_headers_name_what_they_need():
    """Each snippet says what else nginx needs, and ssomw-server.conf points at ssomw-http.conf,
    so a reader of either file finds the maps."""
    server = (REPO / "nginx/ssomw-server.conf").read_text()
    head = server.split("\n\n")[0]
    for needed in ("upstream ssomw", "keys_zone=ssomw_auth", "$ssomw_nocache",
                   "ssomw-http.conf"):
        assert needed in head, needed
    http = (REPO / "nginx/ssomw-http.conf").read_text().split("\n\n")[0]
    for needed in ("upstream ssomw", "keys_zone=ssomw_auth", "$ssomw_nocache"):
        assert needed in http, needed


@pytest.fixture
def tls(tmp_path: Path) -> list[str]:
    cert, key = self_signed(tmp_path / "tls", "jira.example.com", "sso.example.com")
    return ["--tls-cert", str(cert), "--tls-key", str(key)]


@pytest.mark.parametrize("mode", [
    pytest.param("tls", id="https-with-certificate"),
    pytest.param("http", id="plain-http"),
    pytest.param("app", id="only-one-app"),
    pytest.param("inline", id="inline-one-file"),
    pytest.param("no-cache", id="no-cache"),
])
def test_printed_config_passes_nginx_t_as_printed(tmp_path: Path, tls: list[str], mode: str):
    """The example config (an app with rules, extra headers and a local login page; a
    public_url host no app lives on), printed by `ssomw nginx`, given to nginx -t unedited."""
    env = {**os.environ, **EXAMPLE_ENV}
    args = {"tls": tls, "http": ["--http", "127.0.0.1:8080"], "app": [*tls, "--app", "jira"],
            "inline": [*tls, "--inline"], "no-cache": [*tls, "--no-cache"]}[mode]
    result = ssomw_nginx(REPO / "conf/ssomw.example.yaml", *args, "--write-snippets",
                         str(tmp_path / "snippets"), "--cache-path", str(tmp_path / "cache"),
                         env=env)
    assert result.returncode == 0, result.stderr
    nginx_t(tmp_path / "nginx", result.stdout)
    printed = result.stdout
    assert ("ssl_certificate " in printed) == (mode != "http")
    assert ("map \"$ssomw_phase" in printed) == (mode == "inline")  # else in ssomw-http.conf
    if mode != "inline":
        assert len(printed.splitlines()) < 120, "the shared parts belong in the includes"


@pytest.mark.parametrize("inline", [False, True], ids=["includes", "inline"])
def test_every_kind_of_location_passes_nginx_t(tmp_path: Path, inline: bool):
    """Path and method rules (scope maps), SSO off, a wildcard host, two apps on one host,
    app and profile headers, custom names, a strip list."""
    path = write_config(tmp_path, {
        **MINIMAL,
        "server": {"path_prefix": "/gw", "public_url": "https://login.example.com"},
        "session": {"secret_keys": ["k" * 40], "name": "gw_sess", "domain": "example.com"},
        "headers": {"user": "Remote-User", "strip": ["X-Auth-Request-Access-Token", "X-Role"]},
        "profile": {"team": {"claim": "team"}},
        "apps": [
            {"id": "wiki", "hosts": ["wiki.example.com", "*.wiki.example.com"],
             "headers": {"X-Wiki-Team": "team"},
             "rules": [{"paths": ["^/public/", "^/api/v[0-9]+/"], "policy": "bypass"},
                       {"paths": ["^/admin/"], "methods": ["POST"], "policy": "deny"}]},
            {"id": "docs", "hosts": ["wiki.example.com"], "path_prefix": "/docs",
             "upstream": "http://127.0.0.1:8081"},
            {"id": "plain", "hosts": ["plain.example.com"], "sso": False,
             "upstream": "http://127.0.0.1:8082"}]})
    args = ["--http", "127.0.0.1:8080", "--cache-path", str(tmp_path / "cache"),
            *(["--inline"] if inline else ["--write-snippets", str(tmp_path / "snippets")])]
    result = ssomw_nginx(path, *args)
    assert result.returncode == 0, result.stderr
    nginx_t(tmp_path / "nginx", result.stdout)
    assert "map $uri $ssomw_scope_wiki_uri" in result.stdout
    assert "server_name login.example.com;" in result.stdout
    # Apps sharing one of their hosts share its server {}: nginx would route a server_name
    # printed twice to the first server only.
    names = [n for line in result.stdout.splitlines() if line.strip().startswith("server_name")
             for n in line.split()[1:]]
    assert len(names) == len(set(names)), names
    wiki = next(b for b in result.stdout.split("\nserver {")
                if "server_name wiki.example.com;" in b)
    assert 'set $ssomw_app "wiki"' in wiki and 'set $ssomw_app "docs"' in wiki


def test_public_url_host_gets_a_server_with_the_gateway_pages(tmp_path: Path):
    path = write_config(tmp_path, {**MINIMAL, "server": {"public_url": "https://sso.example.com"},
                                   "session": {**MINIMAL["session"], "domain": "example.com"}})
    result = ssomw_nginx(path, "--http", "8080")
    assert result.returncode == 0, result.stderr
    servers = result.stdout.split("\nserver {")[1:]
    public = [s for s in servers if "server_name sso.example.com;" in s]
    assert len(public) == 1
    assert "ssomw-server.conf" in public[0] and "ssomw-protect.conf" not in public[0]
    assert "return 404;" in public[0]


@pytest.mark.parametrize("public_url, extra_server", [
    pytest.param("https://a.example.com", False, id="an-app-host"),
    pytest.param("https://a.example.com:8443/", False, id="an-app-host-with-port"),
    pytest.param("https://x.apps.example.com", False, id="under-an-app-wildcard"),
    pytest.param("https://apps.example.com", True, id="a-wildcard-never-covers-its-apex"),
])
def test_public_url_on_an_app_host_needs_no_extra_server(tmp_path: Path, public_url: str,
                                                          extra_server: bool):
    apps = [{"id": "a", "hosts": ["a.example.com"]}, {"id": "w", "hosts": ["*.apps.example.com"]}]
    path = write_config(tmp_path, {**MINIMAL, "apps": apps,
                                   "session": {**MINIMAL["session"], "domain": "example.com"},
                                   "server": {"public_url": public_url}})
    result = ssomw_nginx(path, "--http", "8080")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\nserver {") == 2 + extra_server


def test_public_url_server_follows_the_printed_apps(tmp_path: Path):
    """With --app, the public host gets its server when the printed apps do not cover it."""
    apps = [{"id": "a", "hosts": ["a.example.com"]}, {"id": "b", "hosts": ["b.example.com"]}]
    path = write_config(tmp_path, {**MINIMAL, "apps": apps,
                                   "session": {**MINIMAL["session"], "domain": "example.com"},
                                   "server": {"public_url": "https://a.example.com"}})
    result = ssomw_nginx(path, "--http", "8080", "--app", "b")
    assert result.returncode == 0, result.stderr
    assert "server_name b.example.com;" in result.stdout
    assert "server_name a.example.com;" in result.stdout  # the public host, pages only
    assert 'set $ssomw_app "a"' not in result.stdout


def test_nginx_command_prints_only_the_requested_app(tmp_path: Path):
    path = write_config(tmp_path, {**MINIMAL, "apps": [
        {"id": "a", "hosts": ["a.example.com"]}, {"id": "b", "hosts": ["b.example.com"]}]})
    result = ssomw_nginx(path, "--http", "--app", "b")
    assert result.returncode == 0, result.stderr
    assert "server_name b.example.com;" in result.stdout and "listen 80;" in result.stdout
    assert "a.example.com" not in result.stdout


@pytest.mark.parametrize("args, message", [
    pytest.param([], "--tls-cert FILE --tls-key FILE", id="no-way-to-listen"),
    pytest.param(["--tls-cert", "c.pem"], "go together", id="certificate-without-key"),
    pytest.param(["--http", "--tls-cert", "c", "--tls-key", "k"], "plain HTTP", id="both"),
    pytest.param(["--http", "--app", "nope"], "unknown app", id="unknown-app"),
])
def test_nginx_command_refuses_rather_than_print_a_broken_file(tmp_path: Path, args, message):
    result = ssomw_nginx(write_config(tmp_path, MINIMAL), *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_printed_header_says_how_to_make_it_again(tmp_path: Path):
    path = write_config(tmp_path, MINIMAL)
    result = ssomw_nginx(path, "--http", "127.0.0.1:8080", "--no-cache")
    head = result.stdout.split("\n\n")[0]
    assert f"ssomw nginx -c {path.resolve()} --http 127.0.0.1:8080 --no-cache" in head
    assert "--write-snippets" in head and "/etc/nginx/ssomw" in head
    assert "edit the gateway config instead" not in result.stdout


def test_write_snippets_alone_writes_the_three_files(tmp_path: Path):
    result = ssomw_nginx(write_config(tmp_path, MINIMAL), "--write-snippets",
                         str(tmp_path / "out"))
    assert result.returncode == 0 and result.stdout == ""
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(SNIPPETS)
    assert (tmp_path / "out/ssomw-http.conf").read_text() == (
        REPO / "nginx/ssomw-http.conf").read_text()


def test_a_step_up_rule_keys_the_decision_cache_by_its_urls():
    """Issue 20.1: an allow cached for another path of the app never answers for a path whose
    rule asks for a recent or stronger sign-in: that path keys the cache by method and URI."""
    config = from_text(yaml.safe_dump({**MINIMAL, "apps": [
        {"id": "wiki", "hosts": ["wiki.example.com"],
         "rules": [{"paths": ["^/admin/"], "policy": "authenticated", "max_age": "5m"}]}]}))
    printed = full_config(config, gateway="127.0.0.1:4180", listen="80", cache_path="/tmp/c",
                          snippet_dir="/etc/nginx/ssomw")
    assert 'map $uri $ssomw_scope_wiki_uri {\n    default "";\n' \
        '    "~^/admin/" "$request_method $request_uri";\n}' in printed
    assert "set $ssomw_cache_scope $ssomw_scope_wiki;" in printed


def test_the_assertion_header_is_passed_like_an_identity_header_and_never_forgeable():
    """Issue 20.2: with headers.assertion set the snippet copies the gateway's value (and so
    overwrites a client's); unset, the name stays in headers.strip and is cleared."""
    on = snippet_files(from_text(yaml.safe_dump({
        **MINIMAL, "headers": {"assertion": "X-Auth-Request-Jwt"}})))["ssomw-protect.conf"]
    assert "auth_request_set $ssomw_x_auth_request_jwt $upstream_http_x_auth_request_jwt;" in on
    assert "proxy_set_header X-Auth-Request-Jwt $ssomw_x_auth_request_jwt;" in on
    assert 'proxy_set_header X-Auth-Request-Jwt "";' not in on
    off = snippet_files(from_text(yaml.safe_dump(MINIMAL)))["ssomw-protect.conf"]
    assert 'proxy_set_header X-Auth-Request-Jwt "";' in off
