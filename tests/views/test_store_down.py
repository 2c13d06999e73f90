"""The store refuses: every page answers 503 with the "temporarily unavailable" page, never
500, and works again by itself once the store is back (issue 17 item 1).

Three real outages: Redis paused (SIGSTOP: connections hang until the socket timeout), Redis
killed (and restarted empty), and SQLite on a full file system (reads work, writes fail). The
flow session is saved by Flask-Session *after* the view, so a view that wrote nothing to the
store itself still fails there; those pages are the ones this guards. With a full disk, a page
that only reads (the logout confirmation, a form whose token is already stored) may answer as
usual; every page that writes must answer 503. The real chain (nginx in front) is in
tests/e2e/test_faults.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher
from werkzeug.test import Client, TestResponse

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.identity.users import set_local_groups
from ssomw.wsgi import Gateway
from tests.support.disk import SmallDisk
from tests.support.redis_server import RedisServer
from tests.views.test_callback import ISSUER, FakeIdp, finish, idp, start  # noqa: F401

EMERGENCY = "/sso/break-glass-0123456789abcdef"
BASE = "http://app.example.com"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
UNAVAILABLE = "temporarily unavailable"


@dataclass
class Outage:
    store: dict[str, Any]
    begin: Callable[[], None]
    end: Callable[[], None]
    reads_work: bool  # a full disk still answers reads


@pytest.fixture(params=["redis-paused", "redis-killed", "sqlite-disk-full"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "sqlite-disk-full":
        with SmallDisk(tmp_path / "disk") as disk:
            yield Outage({"backend": "sqlite", "path": str(disk.path / "s.db")},
                         disk.fill, disk.free, reads_work=True)
        return
    with RedisServer(workdir=tmp_path / "redis") as redis:
        store = {"backend": "redis", "url": redis.url, "socket_timeout": 0.2}
        if request.param == "redis-paused":
            yield Outage(store, redis.freeze, redis.thaw, reads_work=False)
        else:
            yield Outage(store, lambda: redis.stop(kill=True), redis.start, reads_work=False)


@pytest.fixture
def gateway(outage: Outage, idp: FakeIdp) -> Iterator[tuple[Client, Runtime]]:  # noqa: F811
    config = from_text(yaml.safe_dump({
        "store": outage.store,
        "session": {"secret_keys": ["k" * 40], "secure": False},
        "providers": [{"id": "idp", "issuer": ISSUER, "client_id": "gw", "client_secret": "x",
                       "authoritative": ["username"]}],
        "apps": [{"id": "app", "hosts": ["app.example.com"]}],
        "emergency": {"enabled": True, "path": EMERGENCY, "allowed_groups": ["sso-admins"],
                      "credentials": "local",
                      "local_users": [{"username": "admin", "hash": CHEAP.hash("right")}]},
    }))
    runtime = Runtime.build(config)
    runtime.providers.get("idp").http.mount(ISSUER, idp)
    set_local_groups(runtime.store, "admin", ["sso-admins"])
    yield Client(Gateway(config, runtime)), runtime
    runtime.store.close()


def form_token(page: TestResponse) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def signed_in(client: Client, idp: FakeIdp) -> None:  # noqa: F811
    assert finish(client, start(client, idp)).status_code == 302


# Each page: (prepare before the outage -> the request to send, its usual status, writes?)
Page = tuple[Callable[[Client, FakeIdp], Callable[[], TestResponse]], int, bool]
PAGES: dict[str, Page] = {
    "login": (lambda c, i: lambda: c.get("/sso/login?rd=/x", base_url=BASE), 302, True),
    "emergency form (GET, new browser)": (
        lambda c, i: lambda: Client(c.application).get(EMERGENCY, base_url=BASE), 200, True),
    "emergency form (GET)": (lambda c, i: (c.get(EMERGENCY, base_url=BASE), lambda: c.get(
        EMERGENCY, base_url=BASE))[1], 200, False),
    "emergency form (POST)": (lambda c, i: (lambda token: lambda: c.post(
        EMERGENCY, base_url=BASE, data={"csrf": token, "username": "admin",
                                        "password": "wrong"}))(
        form_token(c.get(EMERGENCY, base_url=BASE))), 401, True),
    "callback": (lambda c, i: (lambda state: lambda: finish(c, state))(start(c, i)), 302, True),
    "logout confirmation (GET)": (lambda c, i: (signed_in(c, i), lambda: c.get(
        "/sso/logout", base_url=BASE))[1], 200, False),
    "logout (POST)": (lambda c, i: (signed_in(c, i), (lambda token: lambda: c.post(
        "/sso/logout", base_url=BASE, data={"csrf": token}))(
        form_token(c.get("/sso/logout", base_url=BASE))))[1], 302, True),
}


@pytest.mark.parametrize("page", PAGES)
def test_a_page_answers_503_while_the_store_refuses_and_recovers(
        gateway: tuple[Client, Runtime], idp: FakeIdp, outage: Outage,  # noqa: F811
        page: str) -> None:
    client, _ = gateway
    prepare, usual, writes = PAGES[page]
    send = prepare(client, idp)
    outage.begin()
    try:
        response = send()
    finally:
        outage.end()
    if outage.reads_work and not writes:
        assert response.status_code == usual, response.get_data(as_text=True)[:300]
    else:
        assert response.status_code == 503, response.get_data(as_text=True)[:300]
        assert UNAVAILABLE in response.get_data(as_text=True)
        assert "Location" not in response.headers
        assert "ssomw_session=" not in response.headers.get("Set-Cookie", "")
    assert prepare(client, idp)().status_code == usual  # by itself: nothing to reset
