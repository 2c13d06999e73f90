"""Every parameter that holds a URL, fuzzed with a fixed seed: no page may answer 5xx.

``rd`` on every page that takes it, ``X-Original-URL`` (nginx's 403 page), the ``Host``
header, the logout ``state``, ``login_hint``/``email`` and the front-channel ``iss``: each is
parsed by :func:`ssomw.core.target.split_url`, which cannot raise, and anything it cannot read
falls back like an unsafe redirect (issue 17 item 8). The real chain sends a few of the same
through nginx in tests/e2e/test_faults.py.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.wsgi import Gateway
from tests.views.test_callback import ISSUER, FakeIdp, idp  # noqa: F401 - the fixture

DATA = yaml.safe_load((Path(__file__).parents[1] / "data" / "hostile_url_parts.yaml")
                      .read_text())
EMERGENCY = "/sso/break-glass-0123456789abcdef"
HOST = "app.example.com"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
SEED = 17_08
PER_PARAMETER = 60


def hostile_urls(seed: int, count: int) -> list[str]:
    """The known crashers, then ``count`` seeded combinations of the data file's pieces with
    up to three random character insertions, deletions or swaps each."""
    rng = random.Random(seed)
    out = list(DATA["known"])
    for _ in range(count):
        url = (rng.choice(DATA["schemes"]) + rng.choice(DATA["authorities"])
               + rng.choice(DATA["paths"]))
        for _ in range(rng.randrange(4)):
            at = rng.randrange(len(url) + 1)
            action = rng.randrange(3)
            if action == 0:
                url = url[:at] + rng.choice(DATA["alphabet"]) + url[at:]
            elif action == 1 and url:
                url = url[:at] + url[at + 1:]
            elif url:
                url = url[:at] + rng.choice(DATA["known"]) + url[at:]
        out.append(url)
    return out


@pytest.fixture
def client(tmp_path: Path, idp: FakeIdp) -> Iterator[Client]:  # noqa: F811 - the fixture
    config = from_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "s.db")},
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": ISSUER, "client_id": "gw", "client_secret": "x",
                       "logout": {"frontchannel": True}},
                      {"id": "other", "issuer": ISSUER + "/other", "client_id": "gw",
                       "client_secret": "x"}],
        "apps": [{"id": "app", "hosts": [HOST]}],
        "routing": {"rules": [{"match": {"email_domain": ["example.com"]}, "provider": "idp"}],
                    "default": "other"},
        "emergency": {"enabled": True, "path": EMERGENCY, "allowed_groups": ["sso-admins"],
                      "credentials": "local", "throttle": {"max_failures": 1000},
                      "local_users": [{"username": "admin", "hash": CHEAP.hash("right")}]},
    }))
    runtime = Runtime.build(config)
    runtime.providers.get("idp").http.mount(ISSUER, idp)
    yield Client(Gateway(config, runtime))
    runtime.store.close()


def csrf(client: Client, path: str) -> str:
    page = client.get(path, base_url=f"http://{HOST}").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


Send = Callable[[Client, str], Any]
SENDERS: dict[str, Send] = {
    "login rd": lambda c, u: c.get("/sso/login", query_string={"rd": u},
                                   base_url=f"http://{HOST}"),
    "login login_hint": lambda c, u: c.get("/sso/login", query_string={"login_hint": u, "rd": u},
                                           base_url=f"http://{HOST}"),
    "login email (POST)": lambda c, u: c.post("/sso/login", data={
        "csrf": csrf(c, "/sso/login"), "email": u, "rd": u},
        base_url=f"http://{HOST}"),
    "callback rd": lambda c, u: c.get("/sso/callback", query_string={"rd": u, "state": "x"},
                                      base_url=f"http://{HOST}"),
    "callback X-Original-URL": lambda c, u: c.get("/sso/callback", headers={
        "X-Original-URL": u}, base_url=f"http://{HOST}"),
    "emergency rd (GET)": lambda c, u: c.get(EMERGENCY, query_string={"rd": u},
                                             base_url=f"http://{HOST}"),
    "emergency rd (POST)": lambda c, u: c.post(EMERGENCY, query_string={"rd": u}, data={
        "csrf": csrf(c, EMERGENCY), "username": "admin", "password": "wrong", "rd": u},
        base_url=f"http://{HOST}"),
    "logout rd": lambda c, u: c.get("/sso/logout", query_string={"rd": u},
                                    base_url=f"http://{HOST}"),
    "logged-out state and rd": lambda c, u: c.get("/sso/logged-out", query_string={
        "state": u, "rd": u}, base_url=f"http://{HOST}"),
    "front-channel iss": lambda c, u: c.get("/sso/frontchannel-logout", query_string={
        "iss": u, "sid": "x"}, base_url=f"http://{HOST}"),
    "404 page X-Original-URL": lambda c, u: c.get("/sso/nowhere", query_string={"rd": u},
                                                  headers={"X-Original-URL": u},
                                                  base_url=f"http://{HOST}"),
    "auth X-Original-URL": lambda c, u: c.get("/sso/auth", headers={
        "X-Original-URL": u, "Accept": "text/html"}, base_url=f"http://{HOST}"),
    "Host header": lambda c, u: c.get("/sso/login", headers={"Host": u[:200]},
                                      query_string={"rd": u}),
}


@pytest.mark.parametrize("parameter", SENDERS)
def test_no_url_makes_a_page_fail(client: Client, parameter: str) -> None:
    send = SENDERS[parameter]
    failures = []
    for url in hostile_urls(SEED + len(parameter), PER_PARAMETER):
        response = send(client, url)
        if response.status_code >= 500 and response.status_code != 503:
            failures.append((url, response.status_code))
        location = response.headers.get("Location", "")
        assert "[::1" not in location or location.startswith("https://idp"), (url, location)
    assert not failures, failures[:10]
