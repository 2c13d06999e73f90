"""Suite-wide hygiene: every in-process Gateway is closed when the test (or, for one built by a
module-scoped fixture, the module) that built it ends.

A Gateway starts its upkeep threads (purge, config watch, broker logout) on its first request
and, left alone, they outlive their test: they poll a store that is gone, log into other tests'
output, and a test that forks while one of them is inside SQLite can leave its child stuck on
SQLite's lock (seen: a forked writer that never exited).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ssomw.wsgi import Gateway

BUILT: list[Gateway] = []  # in order; a scope closes those built after it began


@pytest.fixture(scope="session", autouse=True)
def _record_gateways() -> Iterator[None]:
    build = Gateway.__init__

    def recorded(self: Gateway, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **kwargs)
        BUILT.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Gateway, "__init__", recorded)
        yield


def _close_built_since(mark: int) -> None:
    while len(BUILT) > mark:
        BUILT.pop().close()


@pytest.fixture(scope="module", autouse=True)
def _close_module_gateways(_record_gateways: None) -> Iterator[None]:
    mark = len(BUILT)
    yield
    _close_built_since(mark)


@pytest.fixture(autouse=True)
def _close_test_gateways(_close_module_gateways: None) -> Iterator[None]:
    mark = len(BUILT)  # module-scoped fixtures have run by now: theirs stay for the module
    yield
    _close_built_since(mark)
