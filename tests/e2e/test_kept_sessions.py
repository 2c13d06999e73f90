"""SQLite sessions kept in the gateway's workers (ssomw/store/marks.py), through the real chain.

Two gateway instances (two gunicorn workers each) on one SQLite file behind nginx, decision
cache off: each worker keeps the session records it read, and a logout or a revocation made
anywhere — the other instance, or the CLI in its own process — must be refused by every
worker on the very next request.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.signin import gateway_logout

from .conftest import cli, signed_in, start_stack, status
from .stack import Stack

ROUNDS = 12  # enough requests that both workers of an instance answer some


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory, "kept", backend="sqlite", instances=2, cache=False)
    yield stack
    stack.stop()


def auth_statuses(stack: Stack, instance: int, cookie: str) -> set[int]:
    """What every worker of one instance answers for this cookie, asked directly."""
    headers = {"X-Original-URL": stack.url("app-a", "/"), "Cookie": f"ssomw_session={cookie}"}
    url = f"{stack.gateways[instance].url}/sso/auth"
    return {requests.get(url, headers=headers, timeout=5).status_code for _ in range(ROUNDS)}


def test_a_revocation_by_the_cli_is_refused_by_every_worker_at_once(kept: Stack):
    alice, bob = signed_in(kept, "alice"), signed_in(kept, "bob")
    cookie = alice.cookies.get("ssomw_session")
    assert auth_statuses(kept, 0, cookie) == auth_statuses(kept, 1, cookie) == {200}
    result = cli(kept, "revoke", "--user", "alice")
    assert result.returncode == 0 and "revoked" in result.stdout
    assert auth_statuses(kept, 0, cookie) == auth_statuses(kept, 1, cookie) == {401}
    assert status(alice, kept) == 401
    assert status(bob, kept) == 200


def test_a_logout_on_one_instance_is_refused_by_the_other_at_once(kept: Stack):
    session = signed_in(kept, "bob")
    cookie = session.cookies.get("ssomw_session")
    assert auth_statuses(kept, 1, cookie) == {200}
    gateway_logout(requests, f"{kept.gateways[0].url}/sso/logout", allow_redirects=False,
                   timeout=5, headers={"Host": kept.host("app-a"),
                                       "Cookie": f"ssomw_session={cookie}"})
    assert auth_statuses(kept, 1, cookie) == {401}
    assert status(session, kept) == 401
