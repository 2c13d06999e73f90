"""``GET /sso/metrics``: who may scrape, and what a disabled endpoint looks like."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.telemetry import metrics
from ssomw.views.metrics import bp


def gateway(tmp_path: Path, section: dict[str, Any]) -> Client:
    """A Flask app with only the metrics blueprint, over a real Runtime."""
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                       "client_secret": "x"}],
        "apps": [{"id": "wiki", "hosts": ["wiki.example.com"]}],
        "metrics": section,
    }))
    app = Flask(__name__)
    app.extensions["ssomw"] = Runtime.build(config)
    app.register_blueprint(bp, url_prefix=config.prefix)
    return Client(app)


def scrape(client: Client, address: str):
    return client.get("/sso/metrics", environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize(("section", "address", "status"), [
    pytest.param({}, "127.0.0.1", 200, id="default-loopback-v4"),
    pytest.param({}, "::1", 200, id="default-loopback-v6"),
    pytest.param({}, "::ffff:127.0.0.1", 200, id="v4-mapped-loopback"),
    pytest.param({}, "10.0.0.5", 403, id="default-elsewhere"),
    pytest.param({"allow_from": ["10.0.0.0/8"]}, "10.20.30.40", 200, id="allowed-network"),
    pytest.param({"allow_from": ["10.0.0.0/8"]}, "127.0.0.1", 403, id="loopback-not-listed"),
    pytest.param({"allow_from": ["10.0.0.0/8"]}, "11.0.0.1", 403, id="outside-network"),
    pytest.param({}, "", 403, id="no-address"),
    pytest.param({}, "not-an-ip", 403, id="garbage-address"),
    pytest.param({"enabled": False}, "127.0.0.1", 404, id="disabled"),
    pytest.param({"enabled": False}, "10.0.0.5", 404, id="disabled-elsewhere"),
])
def test_who_may_scrape(tmp_path, section, address, status):
    response = scrape(gateway(tmp_path, section), address)
    assert response.status_code == status
    if status == 403:
        assert b"ssomw_" not in response.data


def test_scrape_is_prometheus_text_with_the_recorded_values(tmp_path):
    client = gateway(tmp_path, {})
    metrics.register(["wiki"])
    metrics.auth_decision("wiki", "bypass", 0.0002)
    response = scrape(client, "127.0.0.1")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert 'ssomw_auth_decisions_total{app="wiki",outcome="bypass"}' in text
    assert "# TYPE ssomw_auth_request_duration_seconds histogram" in text


def test_post_is_not_a_scrape(tmp_path):
    response = gateway(tmp_path, {}).post("/sso/metrics",
                                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 405
