"""``ssomw demo`` without starting it: its config passes the gateway's own validation, its
printout names what a user needs, its apps escape what requests bring, and a busy port is
explained before anything starts. The running demo is tests/e2e/test_demo.py."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import yaml
from argon2 import PasswordHasher

from ssomw.config import from_text
from ssomw.demo.apps import render_login, render_page
from ssomw.demo.prereq import find_repo, missing_prerequisites
from ssomw.demo.stack import APPS, CORP_USERS, EMERGENCY_USER, Demo, DemoInfo
from ssomw.demo.summary import READY_LINE, summary

CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def test_the_demo_config_is_a_valid_gateway_config(tmp_path: Path):
    demo = Demo(tmp_path, 8080, tmp_path)
    demo.corp = SimpleNamespace(issuer="http://127.0.0.1:9001")
    demo.partner = SimpleNamespace(issuer="http://127.0.0.1:9002")
    demo.slapd = SimpleNamespace(url="ldap://127.0.0.1:3389")
    demo.apps = {name: SimpleNamespace(url=f"http://127.0.0.1:{9100 + n}")
                 for n, name in enumerate(APPS)}
    config = from_text(yaml.safe_dump(demo.config(CHEAP.hash(demo.emergency_password))))
    assert [app["id"] for app in config["apps"]] == list(APPS)
    assert config["emergency"]["path"] == demo.emergency_path


def test_the_printout_names_every_app_and_login_and_ends_ready(tmp_path: Path):
    info = DemoInfo(port=8080, workdir=tmp_path, config_path=tmp_path / "ssomw.yaml",
                    urls={name: f"http://{name}.ssomw.localhost:8080/" for name in APPS},
                    discovery={"corp": "http://127.0.0.1:9001/.well-known/x",
                               "partner": "http://127.0.0.1:9002/.well-known/x"},
                    emergency_url="http://app-a.ssomw.localhost:8080/sso/break-glass-1",
                    emergency_password="pw-0123",
                    ports={"gateway": 4180, "ldap": 3389, **dict.fromkeys(APPS, 9100)})
    text = summary(info, keep=False)
    assert all(url in text for url in info.urls.values())
    assert f"alice / {CORP_USERS['alice']['password']}" in text
    assert f"{EMERGENCY_USER} / pw-0123" in text and info.emergency_url in text
    assert "(removed at exit)" in text
    assert text.rstrip().endswith(READY_LINE)  # the e2e test and users wait for this line


def test_an_app_page_escapes_the_request_and_shows_only_identity_headers():
    page = render_page("Wiki", "<b>trusted</b>", "nobody", "/<script>x</script>",
                       {"X-Auth-Request-User": "<img src=x>", "Cookie": "secret"},
                       [("Home", "/?a=1&b=2")])
    assert "<b>trusted</b>" in page and "<script>" not in page
    assert "&lt;img src=x&gt;" in page and "secret" not in page
    assert 'href="/?a=1&amp;b=2"' in page
    assert "No identity headers" in render_page("Wiki", "", "nobody", "/", {}, [])


def test_an_apps_own_login_page_is_a_login_form_that_escapes_the_request():
    page = render_login("App A", "/login", {"X-Auth-Request-User": "<b>admin</b>"}, False)
    assert '<form method="post" action="/login">' in page
    assert 'name="username"' in page and 'name="password" type="password"' in page
    assert "&lt;b&gt;admin&lt;/b&gt;" in page and "<b>admin" not in page
    assert "no accounts of its own" in render_login("App A", "/login", {}, True)


def test_a_busy_port_is_reported_with_its_fix():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        problems = missing_prerequisites(find_repo(), port)
    assert any(f"port {port} on 127.0.0.1 is in use" in p and "--port" in p for p in problems)
    assert any("--port 0 is not a TCP port" in p for p in missing_prerequisites(find_repo(), 0))
