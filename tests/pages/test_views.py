"""Pages through the real Flask app: language from the request, app from the request, and
nothing of Flask's own context (config, request, session) reachable from a template."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from werkzeug.test import Client

from ssomw import flask_app
from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.pages.templating import Pages
from ssomw.views.common import render_page
from ssomw.wsgi import Gateway

SESSION_KEY = "session-key-must-never-show-0123456789"
HOST = "app.example.com"


def custom(name: str) -> dict[str, str]:
    return {"inline": f"[{name}] {{{{ code }}}} {{{{ lang }}}} {{{{ app.id }}}}"}


SECTION = {
    "forbidden": custom("global-forbidden"),
    "email": custom("global-email"),
    "apps": {"wiki": {"forbidden": custom("wiki-forbidden"), "email": custom("wiki-email")}},
}


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": [SESSION_KEY], "secure": False},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                       "client_secret": "s"}],
        "apps": [{"id": "intranet", "name": "Intranet", "hosts": [HOST]},
                 {"id": "wiki", "hosts": [HOST], "path_prefix": "/wiki"}],
    }))
    return Runtime.build(config)


def with_section(runtime: Runtime, section: dict) -> None:
    """Pages built from a `templates:` section, as Runtime.build does from the YAML."""
    runtime.pages = Pages(section, prefix="/sso", app_names={"intranet": "Intranet", "wiki": None})


@pytest.fixture
def client(runtime: Runtime) -> Client:
    return Client(Gateway(runtime.config, runtime))


def test_error_page_in_the_browsers_language(client):
    response = client.get("/sso/no-such-page", base_url=f"http://{HOST}",
                          headers={"Accept-Language": "de-CH, de;q=0.9, en;q=0.5"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and '<html lang="de">' in html
    assert "Diese Seite gibt es nicht." in html and "<code>NOT_FOUND</code>" in html
    assert f"<code>{response.headers['X-Request-Id']}</code>" in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "style=" not in html and "<script" not in html


def test_unknown_gateway_path_is_page_not_found_with_the_gateways_icon(client):
    response = client.get("/sso/no-such-page", base_url=f"http://{HOST}")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<title>Page not found</title>" in html and "<h1>Page not found</h1>" in html
    assert "Sign-in problem" not in html
    assert '<link rel="icon" href="/sso/static/favicon.svg" type="image/svg+xml">' in html
    icon = client.get("/sso/static/favicon.svg", base_url=f"http://{HOST}")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def test_unknown_language_gets_english(client):
    response = client.get("/sso/forbidden", base_url=f"http://{HOST}",
                          headers={"Accept-Language": "xx-YY, ;;q=="})
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and '<html lang="en">' in html
    assert "<h1>Access denied</h1>" in html and "REQUEST_REFUSED" in html


@pytest.mark.parametrize("headers, expected", [
    pytest.param({"X-Original-URL": f"http://{HOST}/wiki/page"},
                 "[wiki-forbidden] REQUEST_REFUSED", id="app-from-original-url"),
    pytest.param({"X-Original-URL": f"http://{HOST}/home"},
                 "[global-forbidden] REQUEST_REFUSED", id="other-app-on-the-host"),
    pytest.param({}, "[global-forbidden] REQUEST_REFUSED", id="no-original-url"),
    pytest.param({"X-Original-URL": "http://elsewhere.example.com/wiki/x"},
                 "[global-forbidden] REQUEST_REFUSED", id="original-url-of-another-host"),
])
def test_forbidden_page_uses_the_apps_template(runtime, client, headers, expected):
    with_section(runtime, SECTION)
    response = client.get("/sso/forbidden", base_url=f"http://{HOST}",
                          headers={**headers, "Accept-Language": "de"})
    assert response.status_code == 403
    assert response.get_data(as_text=True).startswith(f"{expected} de")


@pytest.mark.parametrize("query, expected", [
    pytest.param("?rd=/wiki/start", "[wiki-email] USER_NOT_ALLOWED en wiki", id="rd-path"),
    pytest.param(f"?rd=http://{HOST}/wiki/x", "[wiki-email] USER_NOT_ALLOWED en wiki",
                 id="rd-url"),
    pytest.param("?rd=/", "[global-email] USER_NOT_ALLOWED en intranet", id="rd-root"),
])
def test_render_page_finds_the_app_from_rd(runtime, query, expected):
    with_section(runtime, SECTION)
    app = flask_app(runtime.config, runtime)
    with app.test_request_context(f"/sso/login{query}", base_url=f"http://{HOST}"):
        assert render_page("email", code="USER_NOT_ALLOWED") == expected


FLASK_PROBES = ("{{ config }}{{ config.SECRET_KEY }}{{ request }}{{ request.environ }}"
                "{{ session }}{{ g }}{{ get_flashed_messages }}{{ current_app }}"
                "{{ self._TemplateReference__context }}")


@pytest.mark.parametrize("template", [
    pytest.param(f"<p>{FLASK_PROBES}</p>", id="flask-context"),
    pytest.param("{{ url_for('static', filename='x') }}", id="url-for-absent"),
    pytest.param("{{ config.__class__.__init__.__globals__ }}", id="globals"),
])
def test_flask_context_is_out_of_reach(runtime, client, template):
    with_section(runtime, {"forbidden": {"inline": template}})
    response = client.get("/sso/forbidden", base_url=f"http://{HOST}",
                          headers={"Cookie": "ssomw_session_flow=x"})
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert SESSION_KEY not in html and "environ" not in html and "wsgi" not in html
