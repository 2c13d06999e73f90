"""`ssomw proxy (caddy|traefik|envoy|ingress-nginx)`: each printed configuration parses (Caddy's
own `caddy validate`; YAML for the others), names the gateway endpoint for that proxy, copies
every identity header to the app and strips the client's first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ssomw.cli import main
from ssomw.config import load_config
from ssomw.integration.common import copied_headers
from tests.support.caddy import Caddy
from tests.support.readme import readme_block

CONFIG = {
    "server": {"trusted_proxies": ["127.0.0.1/32"]},
    "session": {"secret_keys": ["k" * 40], "secure": False},
    "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "c",
                   "client_secret": "s"}],
    "profile": {"department": {"claim": "department"}},
    "apps": [
        {"id": "wiki", "hosts": ["wiki.example.com", "*.docs.example.com"],
         "upstream": "http://wiki.apps.svc:8080", "headers": {"X-Wiki-Mail": "email"}},
        {"id": "wiki-admin", "hosts": ["wiki.example.com", "*.docs.example.com"],
         "path_prefix": "/admin/", "upstream": "http://127.0.0.1:8081",
         "allowed_groups": ["admins"]},
        {"id": "plain", "hosts": ["plain.example.com"], "sso": False,
         "upstream": "http://127.0.0.1:8082"},
    ],
}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "store": {"path": str(tmp_path / "s.db")}}))
    return path


@pytest.fixture
def copied(config_file: Path) -> list[str]:
    return copied_headers(load_config(config_file))


def printed(config_file: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["proxy", *args, "-c", str(config_file)])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_header_list_is_identity_app_and_strip_headers(copied):
    assert copied[:2] == ["X-Auth-Request-User", "X-Auth-Request-Email"]
    for name in ("X-Auth-Request-Groups", "X-Auth-Request-Department", "X-Wiki-Mail",
                 "Remote-User", "X-Forwarded-User"):
        assert name in copied


@pytest.mark.parametrize("args", [
    pytest.param(("--http", "8080", "--admin", "off"), id="http"),
    pytest.param((), id="https-automatic"),
])
def test_caddy_validates_the_printed_caddyfile(config_file, copied, tmp_path, args):
    text = printed(config_file, "caddy", *args)
    Caddy(tmp_path / "caddy", text, 0).check_config()  # raises with Caddy's message
    assert text.count("uri /sso/forward-auth") == 2  # the two apps with SSO on
    assert f"copy_headers {' '.join(copied)}" in text
    for name in copied:
        assert f"request_header -{name}\n" in text


def test_traefik(config_file, copied):
    doc = yaml.safe_load(printed(config_file, "traefik", "--entrypoint", "websecure"))["http"]
    auth = doc["middlewares"]["ssomw-auth"]["forwardAuth"]
    assert auth["address"] == "http://127.0.0.1:4180/sso/forward-auth"
    assert auth["trustForwardHeader"] is False
    assert auth["authResponseHeaders"] == copied
    assert doc["middlewares"]["ssomw-strip"]["headers"]["customRequestHeaders"] == {
        name: "" for name in copied}
    routers = doc["routers"]
    assert routers["app-wiki"]["middlewares"] == ["ssomw-strip", "ssomw-auth"]
    assert routers["app-plain"]["middlewares"] == ["ssomw-strip"]
    assert "PathPrefix(`/admin/`)" in routers["app-wiki-admin"]["rule"]
    assert r"HostRegexp(`^[^.]+\.docs\.example\.com$`)" in routers["app-wiki"]["rule"]
    pages = [r for name, r in routers.items() if name.startswith("ssomw-pages-")]
    assert pages and all("ssomw-auth" not in r["middlewares"] for r in pages)
    assert all(r["entryPoints"] == ["websecure"] for r in routers.values())
    assert doc["services"]["app-plain"]["loadBalancer"]["servers"] == [
        {"url": "http://127.0.0.1:8082"}]


def filters(bootstrap: dict[str, Any]) -> dict[str, Any]:
    manager = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    return manager["typed_config"]


def test_envoy(config_file, copied):
    bootstrap = yaml.safe_load(printed(config_file, "envoy", "--listen", "127.0.0.1:10000"))
    manager = filters(bootstrap)
    chain = manager["http_filters"]
    assert [f["name"] for f in chain] == ["envoy.filters.http.header_mutation",
                                          "envoy.filters.http.ext_authz",
                                          "envoy.filters.http.router"]
    removed = [m["remove"] for m in chain[0]["typed_config"]["mutations"]["request_mutations"]]
    assert removed == [name.lower() for name in copied]
    service = chain[1]["typed_config"]["http_service"]
    assert chain[1]["typed_config"]["failure_mode_allow"] is False
    assert service["path_prefix"] == "/sso/ext-authz"
    upstream = service["authorization_response"]["allowed_upstream_headers"]["patterns"]
    assert [p["exact"] for p in upstream] == [name.lower() for name in copied]
    sent = [p.get("exact") for p in service["authorization_request"]["allowed_headers"][
        "patterns"]]
    for name in ("cookie", "accept", "x-requested-with", "sec-fetch-mode", "x-forwarded-proto"):
        assert name in sent
    client = [p["exact"] for p in service["authorization_response"]["allowed_client_headers"][
        "patterns"]]
    assert {"location", "www-authenticate"} <= set(client)
    hosts = manager["route_config"]["virtual_hosts"]
    routes = {(tuple(r["match"].items())[0]): r for r in hosts[0]["routes"]}
    disabled = "envoy.filters.http.ext_authz"
    assert routes[("prefix", "/sso/")]["typed_per_filter_config"][disabled]["disabled"]
    assert routes[("path", "/sso/forward-auth")]["direct_response"]["status"] == 404
    assert [r["match"]["prefix"] for r in hosts[0]["routes"][-2:]] == ["/admin/", "/"]
    plain = next(h for h in hosts if "plain.example.com" in h["domains"])
    assert plain["routes"][-1]["typed_per_filter_config"][disabled]["disabled"]
    listener = bootstrap["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert listener == {"address": "127.0.0.1", "port_value": 10000}


def test_ingress_nginx(config_file, copied):
    docs = list(yaml.safe_load_all(printed(config_file, "ingress-nginx")))
    by_name = {d["metadata"]["name"]: d for d in docs}
    wiki = by_name["app-wiki"]["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert wiki[prefix + "auth-url"] == "http://ssomw.ssomw.svc.cluster.local:4180/sso/auth"
    assert wiki[prefix + "auth-signin"] == (
        "$scheme://$http_host/sso/login?rd=$scheme://$http_host$escaped_request_uri")
    sent = wiki[prefix + "auth-response-headers"].split(",")
    assert sent[:2] == ["X-Auth-Request-User", "X-Auth-Request-Email"]
    assert "X-Wiki-Mail" in sent and "X-Auth-Request-Department" in sent
    snippet = wiki[prefix + "configuration-snippet"]
    assert 'proxy_set_header Remote-User "";' in snippet  # headers.strip
    assert set(sent) | {line.split()[1] for line in snippet.splitlines()} == {
        *copied, "X-Auth-Request-Redirect"}
    plain = by_name["app-plain"]["metadata"]["annotations"]
    assert prefix + "auth-url" not in plain
    assert 'proxy_set_header X-Auth-Request-User "";' in plain[prefix + "configuration-snippet"]
    backend = by_name["app-wiki"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "wiki", "port": {"number": 8080}}}
    policy = by_name["ssomw-only-from-ingress"]
    assert policy["kind"] == "NetworkPolicy"
    assert policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"}
    pages = by_name["ssomw-pages-0"]
    assert "annotations" not in pages["metadata"]  # the gateway's pages: never auth-url
    assert pages["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/sso/"


def test_proxy_nginx_is_ssomw_nginx(config_file):
    direct = CliRunner().invoke(main, ["nginx", "-c", str(config_file), "--http", "8080"])
    grouped = printed(config_file, "nginx", "--http", "8080")
    assert direct.exit_code == 0
    assert grouped == direct.output


@pytest.mark.parametrize("args, message", [
    pytest.param(("caddy", "--app", "nope"), "unknown app id(s): nope", id="unknown-app"),
    pytest.param(("traefik", "--upstream", "wiki"), "give APP=URL", id="upstream-no-url"),
    pytest.param(("envoy", "--upstream", "nope=http://x"), "unknown app", id="upstream-app"),
    pytest.param(("envoy", "--listen", "localhost"), "ADDRESS:PORT", id="envoy-listen"),
    pytest.param(("caddy", "--http", "80", "--listen", "443"), "drop --listen", id="caddy-both"),
])
def test_bad_options_are_usage_errors(config_file, args, message):
    result = CliRunner().invoke(main, ["proxy", *args, "-c", str(config_file)])
    assert result.exit_code == 2
    assert message in result.output


def test_upstream_option_and_app_filter(config_file):
    text = printed(config_file, "caddy", "--app", "plain", "--upstream",
                   "plain=http://10.0.0.9:80", "--http", "80")
    assert "reverse_proxy http://10.0.0.9:80" in text
    assert "wiki.example.com" not in text


def test_the_readme_ingress_is_what_the_command_prints(tmp_path):
    """The README's Ingress for the five-minute app is exactly what `ssomw proxy
    ingress-nginx` prints for it."""
    config = {**CONFIG, "store": {"path": str(tmp_path / "s.db")},
              "apps": [{"id": "wiki", "hosts": ["wiki.example.com"],
                        "upstream": "http://wiki:8080"}]}
    config.pop("profile")
    path = tmp_path / "ssomw.yaml"
    path.write_text(yaml.safe_dump(config))
    docs = list(yaml.safe_load_all(printed(path, "ingress-nginx", "--namespace", "wiki")))
    shown = yaml.safe_load(readme_block("ingress-nginx/app"))
    assert shown == next(d for d in docs if d["metadata"]["name"] == "app-wiki")
