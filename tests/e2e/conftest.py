"""Fixtures for the real chain. Each module gets its own stack on fresh ports and temp dirs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import requests

from tests.support.resolve import patch_localhost_resolution
from tests.support.signin import sign_in

from .stack import REPO, Stack

API = {"Accept": "application/json"}  # an API client: a bare 401, never a redirect


@pytest.fixture(scope="session", autouse=True)
def localhost_names() -> Iterator[None]:
    with patch_localhost_resolution():
        yield


def start_stack(tmp_path_factory: pytest.TempPathFactory, name: str,
                cls: type[Stack] = Stack, **options) -> Stack:
    """A started stack of ``cls`` in a fresh temp dir; stopped again if starting fails."""
    stack = cls(tmp_path_factory.mktemp(name), **options)
    try:
        return stack.start()
    except BaseException:
        stack.stop()
        raise


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory, "stack")
    yield s
    s.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def signed_in(stack: Stack, user: str = "alice", app: str = "app-a") -> requests.Session:
    """A browser-like session signed in as ``user`` through the provider's forms."""
    session = requests.Session()
    response = sign_in(session, stack.url(app, "/"), user, "test-password")
    assert response.status_code == 200, getattr(response, "trail", response.url)
    return session


def status(session: requests.Session, stack: Stack, app: str = "app-a") -> int:
    """What an API request by this session gets from ``app`` through nginx."""
    return session.get(stack.url(app, "/page"), headers=API, allow_redirects=False).status_code


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    """``ssomw sessions ARGS`` against the stack's configuration, in its own process."""
    assert stack.gateway is not None
    return subprocess.run([str(REPO / ".venv/bin/ssomw"), "sessions", *args, "-c",
                           str(stack.gateway.config_path)], capture_output=True, text=True)
