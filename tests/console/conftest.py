"""An in-process gateway with the console on (``admin.console.groups: [ops]``) and a
browser-like client: its cookie jar holds a session made for the test's person."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.test import Client, TestResponse

from ssomw.config import from_text
from ssomw.wsgi import Gateway
from tests.admin.conftest import config_with

HOST = "wiki.example.com"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    client: Client
    gateway: Gateway

    @property
    def runtime(self) -> Any:
        return self.gateway.runtime

    def sign_in(self, user: str = "olga", groups: tuple[str, ...] = ("ops",),
                provider: str = "idp") -> str:
        record, cookie = self.runtime.sessions.create(
            user=user, provider=provider, sub=user, sid=None,
            data={"groups": list(groups), "email": f"{user}@example.com"})
        self.client.set_cookie("ssomw_session", cookie, domain=HOST)
        return record.id

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(f"/sso/admin{path}", base_url=f"http://{HOST}", **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True,
             **kwargs: Any) -> TestResponse:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf())
        return self.client.post(f"/sso/admin{path}", base_url=f"http://{HOST}", data=form,
                                **kwargs)

    def csrf(self) -> str:
        match = CSRF.search(self.get("/sessions").get_data(as_text=True))
        assert match, "no CSRF token on the sessions page"
        return match.group(1)

    def follow(self, response: TestResponse) -> TestResponse:
        assert response.status_code in (302, 303), (response.status_code,
                                                    response.get_data(as_text=True)[:2000])
        location = response.headers["Location"]
        return self.client.get(location, base_url=f"http://{HOST}")

    def reload(self) -> None:
        self.gateway.reload_from_store()


@pytest.fixture
def make_console(tmp_path: Path) -> Iterator[Callable[..., Console]]:
    made: list[Console] = []

    def make(**overrides: Any) -> Console:
        raw = config_with(tmp_path, name=f"s{len(made)}.db")  # a store each
        raw["admin"]["console"] = {"groups": ["ops"]}
        raw["server"]["trusted_proxies"] = []
        for key, value in overrides.items():
            raw[key] = value
        gateway = Gateway(from_text(yaml.safe_dump(raw)))
        console = Console(Client(gateway), gateway)
        made.append(console)
        return console

    yield make
    for console in made:
        console.gateway.store.close()


@pytest.fixture
def console(make_console: Callable[..., Console]) -> Console:
    c = make_console()
    c.sign_in()
    return c
