"""Fixtures: a real slapd loaded with tests/data/ldap/base.ldif, and directories pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssomw.directory import Directory
from tests.support.require import unavailable
from tests.support.slapd import BASE_LDIF, SLAPD, Slapd, directory_settings

if not os.access(SLAPD, os.X_OK):  # a skip locally, a failure under CI=true
    unavailable("slapd is not installed (tests/bootstrap.sh)", module_level=True)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """One shared server for read-only tests; tests that stop or change it use `own_slapd`."""
    with Slapd(tmp_path_factory.mktemp("slapd"), ldif=[BASE_LDIF]) as server:
        yield server


@pytest.fixture
def own_slapd(tmp_path: Path) -> Iterator[Slapd]:
    with Slapd(tmp_path / "slapd", ldif=[BASE_LDIF]) as server:
        yield server


@pytest.fixture
def directory(slapd: Slapd) -> Iterator[Directory]:
    d = Directory(directory_settings(slapd))
    yield d
    d.close()
