"""Shared fixture: a Pages built from an in-test ``templates`` section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ssomw.pages.templating import Pages


@pytest.fixture
def make_pages() -> Callable[..., Pages]:
    def make(section: dict[str, Any] | None = None, **options: Any) -> Pages:
        options.setdefault("app_names", {"intranet": "Intranet", "wiki": None})
        return Pages(section or {}, **options)
    return make
