"""Requests built to confuse nginx and the gateway about which app or cookie is meant.

Each case was found by a security review and reproduced on this chain before its fix: the
gateway must judge exactly the app nginx routes the request to, and nginx's decision cache
must only ever hold an answer under the cookie the gateway judged.
"""

from __future__ import annotations

import json
import socket

import pytest
import requests

from .conftest import signed_in
from .stack import Stack


def raw_get(stack: Stack, request_target: str, host: str, cookie: str | None = None,
            extra: str = "") -> tuple[int, dict[str, object] | None]:
    """One raw HTTP/1.1 request (nginx accepts absolute-form targets); status and echo JSON."""
    lines = [f"GET {request_target} HTTP/1.1", f"Host: {host}", "Accept: application/json",
             "Connection: close"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if extra:
        lines.append(extra)
    with socket.create_connection(("127.0.0.1", stack.port), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    try:
        echo = json.loads(body) if status == 200 else None
    except ValueError:
        echo = None
    return status, echo


def cookie_of(session: requests.Session) -> str:
    return next(c.value for c in session.cookies if c.name == "ssomw_session")


def test_absolute_form_request_cannot_borrow_another_apps_bypass_rule(stack: Stack):
    """``GET http://app-b/public/x`` with ``Host: app-a``: nginx serves app-b; app-a's bypass
    rule for /public/ must not decide it."""
    target = stack.url("app-b", "/public/x")
    status, echo = raw_get(stack, target, f"{stack.host('app-a')}:{stack.port}")
    assert status != 200 and echo is None


def test_absolute_form_request_cannot_borrow_another_apps_policy(stack: Stack):
    """bob may use app-a but not app-b (allowed_groups): he must not reach app-b's upstream
    through a request line naming app-b and a Host naming app-a."""
    bob = signed_in(stack, "bob")
    target = stack.url("app-b", "/private")
    status, echo = raw_get(stack, target, f"{stack.host('app-a')}:{stack.port}",
                           cookie=f"ssomw_session={cookie_of(bob)}")
    assert status in (400, 403), status
    assert echo is None


def test_absolute_form_request_for_the_same_host_still_works(stack: Stack):
    bob = signed_in(stack, "bob")
    host = f"{stack.host('app-a')}:{stack.port}"
    status, echo = raw_get(stack, stack.url("app-a", "/same"), host,
                           cookie=f"ssomw_session={cookie_of(bob)}")
    assert status == 200 and echo is not None
    headers = {k.lower(): v for k, v in echo["headers"].items()}  # type: ignore[union-attr]
    assert headers["x-auth-request-user"] == "bob"


@pytest.mark.parametrize("spelling", ["SSOMW_SESSION", "Ssomw_Session"])
def test_cookie_name_in_another_case_cannot_plant_a_cached_answer(stack: Stack, spelling: str):
    """nginx's ``$cookie_<name>`` matches names in any case and takes the first: the gateway must
    judge that same cookie, so an allow can never be cached under a key the attacker chose."""
    alice = signed_in(stack, "alice")
    planted = f"planted-{spelling}"
    path = f"/page-{spelling}"
    mixed = f"{spelling}={planted}; ssomw_session={cookie_of(alice)}"
    status, _ = raw_get(stack, path, f"{stack.host('app-a')}:{stack.port}", cookie=mixed)
    assert status == 401  # the first cookie nginx sees is the planted one: not signed in
    attacker, echo = raw_get(stack, path, f"{stack.host('app-a')}:{stack.port}",
                             cookie=f"ssomw_session={planted}")
    assert attacker == 401 and echo is None


def test_cached_allow_is_only_served_to_the_cookie_the_gateway_judged(stack: Stack):
    """A genuine cookie after a same-named cookie in another case: whatever the gateway answers,
    a later request carrying only the first value must not get alice's answer."""
    alice = signed_in(stack, "alice")
    genuine = cookie_of(alice)
    host = f"{stack.host('app-a')}:{stack.port}"
    raw_get(stack, "/judged", host, cookie=f"ssomw_session={genuine}; SSOMW_SESSION=zzz")
    raw_get(stack, "/judged", host, cookie=f"SSOMW_SESSION=zzz; ssomw_session={genuine}")
    for cookie in ("ssomw_session=zzz", "SSOMW_SESSION=zzz"):
        status, echo = raw_get(stack, "/judged", host, cookie=cookie)
        assert status == 401 and echo is None, cookie


class SharedHostStack(Stack):
    """Two apps on one host, split by path prefix; only the second checks groups."""

    def apps_config(self) -> list[dict[str, object]]:
        host = self.host("app-a")
        return [
            {"id": "wiki", "hosts": [host], "path_prefix": "/wiki",
             "upstream": self.apps["app-a"].url},
            {"id": "admin", "hosts": [host], "path_prefix": "/admin",
             "upstream": self.apps["app-b"].url, "allowed_groups": ["app-b-users"]},
            {"id": "app-b", "hosts": [self.host("app-b")], "upstream": self.apps["app-b"].url},
        ]


@pytest.fixture(scope="module")
def shared_host(tmp_path_factory: pytest.TempPathFactory):
    from .conftest import start_stack
    s = start_stack(tmp_path_factory, "shared-host", SharedHostStack)
    yield s
    s.stop()


def test_cached_allow_for_one_app_never_serves_another_app_on_the_same_host(shared_host: Stack):
    bob = signed_in(shared_host, "bob", "app-b")
    wiki = bob.get(shared_host.url("app-a", "/wiki/page"), headers={"Accept": "application/json"},
                   allow_redirects=False)
    assert wiki.status_code == 200
    admin = bob.get(shared_host.url("app-a", "/admin/page"),
                    headers={"Accept": "application/json"}, allow_redirects=False)
    assert admin.status_code == 403
