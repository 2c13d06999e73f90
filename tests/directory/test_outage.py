"""A directory that is down, hung, misconfigured or untrusted is one error, within the timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ssomw.directory import Directory, DirectoryUnavailable
from tests.support.net import free_port
from tests.support.slapd import BASE_LDIF, TEST_PASSWORD, Slapd, directory_settings

TIMEOUT = 1.0

CALLS: list = [
    pytest.param(lambda d: d.find_user(username="alice"), id="find_user"),
    pytest.param(lambda d: d.check_password("alice", TEST_PASSWORD), id="check_password"),
    pytest.param(lambda d: list(d.iter_users()), id="iter_users"),
    pytest.param(lambda d: d.count_users(), id="count_users"),
    pytest.param(lambda d: d.ping(), id="ping"),
]


def elapsed_unavailable(call: Callable[[], object]) -> float:
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable):
        call()
    return time.monotonic() - started


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"bind_password": "wrong"}, id="wrong-bind-password"),
        pytest.param({"bind_dn": "cn=nobody,dc=example,dc=com"}, id="unknown-bind-dn"),
        pytest.param({"user_base": "ou=nowhere,dc=example,dc=com"}, id="missing-user-base"),
    ],
)
def test_misconfiguration_is_unavailable(slapd: Slapd, settings: dict, call: Callable) -> None:
    directory = Directory(directory_settings(slapd, **settings))
    with pytest.raises(DirectoryUnavailable):
        call(directory)


@pytest.mark.parametrize("warm", [False, True], ids=["fresh", "pooled-connection"])
@pytest.mark.parametrize("call", CALLS)
def test_stopped_server_fails_fast(own_slapd: Slapd, call: Callable, warm: bool) -> None:
    directory = Directory(directory_settings(own_slapd, timeout=TIMEOUT))
    if warm:
        directory.ping()
    own_slapd.stop()
    assert elapsed_unavailable(lambda: call(directory)) < TIMEOUT + 1


@pytest.mark.parametrize("warm", [False, True], ids=["fresh", "pooled-connection"])
@pytest.mark.parametrize("call", CALLS)
def test_hung_server_fails_within_timeout(own_slapd: Slapd, call: Callable, warm: bool) -> None:
    directory = Directory(directory_settings(own_slapd, timeout=TIMEOUT))
    if warm:
        directory.ping()
    own_slapd.freeze()
    try:
        assert TIMEOUT - 0.1 < elapsed_unavailable(lambda: call(directory)) < TIMEOUT + 1
    finally:
        own_slapd.thaw()
    assert directory.find_user(username="alice") is not None  # and recovers


def test_hung_server_never_holds_concurrent_sign_ins_longer(own_slapd: Slapd) -> None:
    """More callers than pooled connections: the extra ones give up waiting for a slot."""
    directory = Directory(directory_settings(own_slapd, timeout=TIMEOUT, pool_size=2))
    own_slapd.freeze()
    durations: list[float] = []

    def sign_in() -> None:
        durations.append(elapsed_unavailable(lambda: directory.find_user(username="alice")))

    threads = [threading.Thread(target=sign_in) for _ in range(5)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        own_slapd.thaw()
    assert len(durations) == 5 and max(durations) < TIMEOUT + 1


def test_pooled_connection_survives_a_server_restart(own_slapd: Slapd) -> None:
    directory = Directory(directory_settings(own_slapd, timeout=TIMEOUT))
    assert directory.find_user(username="alice") is not None
    own_slapd.stop()
    own_slapd.start()
    started = time.monotonic()
    assert directory.find_user(username="alice") is not None
    assert time.monotonic() - started < TIMEOUT


def test_second_url_is_used_when_the_first_is_down(slapd: Slapd) -> None:
    dead = f"ldap://127.0.0.1:{free_port()}"
    directory = Directory(directory_settings(slapd, url=[dead, slapd.url], timeout=TIMEOUT))
    assert directory.find_user(username="alice") is not None


def test_size_limit_is_an_error_not_a_short_list(tmp_path: Path) -> None:
    """slapd's default sizelimit (500) also caps paged searches; a truncated user list would
    look like users who left, so it must fail loudly."""
    with Slapd(tmp_path, ldif=[BASE_LDIF], size_limit=5) as limited:
        directory = Directory(directory_settings(limited, page_size=3))
        with pytest.raises(DirectoryUnavailable, match="incomplete"):
            list(directory.iter_users())


@pytest.fixture(scope="module")
def tls_slapd(tmp_path_factory: pytest.TempPathFactory):
    with Slapd(tmp_path_factory.mktemp("tls"), ldif=[BASE_LDIF], tls=True) as server:
        yield server


@pytest.mark.parametrize(
    ("how", "trusted"),
    [
        pytest.param("ldaps", True, id="ldaps"),
        pytest.param("starttls", True, id="starttls"),
        pytest.param("ldaps", False, id="ldaps-untrusted-certificate"),
        pytest.param("starttls", False, id="starttls-untrusted-certificate"),
    ],
)
def test_tls(tls_slapd: Slapd, how: str, trusted: bool) -> None:
    settings = directory_settings(
        tls_slapd, timeout=TIMEOUT,
        url=tls_slapd.ldaps_url if how == "ldaps" else tls_slapd.url,
        start_tls=how == "starttls",
        ca_file=str(tls_slapd.ca_file) if trusted else None,
    )  # fmt: skip
    directory = Directory(settings)
    if trusted:
        assert directory.check_password("alice", TEST_PASSWORD) is not None
    else:
        with pytest.raises(DirectoryUnavailable):
            directory.find_user(username="alice")
