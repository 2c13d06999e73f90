"""Fixtures for the real chain. Each module gets its own stack on fresh ports and temp dirs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.resolve import patch_localhost_resolution

from .stack import Stack


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
