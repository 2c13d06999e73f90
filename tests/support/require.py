"""Missing tools: skipped on a developer's machine, a failure in CI.

A skip in CI would hide a regression behind a green run (slapd not installed, no permission
to mount a small file system), so under ``CI=true`` each of these fails with its reason.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str, module_level: bool = False) -> NoReturn:
    """Skip (or, under ``CI=true``, fail) because ``reason``: something the test needs is
    not on this machine."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing tool fails instead of skipping)",
                    pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)
