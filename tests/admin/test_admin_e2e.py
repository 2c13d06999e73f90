"""A change through the admin API is in force on every instance within 2 s (real chain).

Two gateway processes share one Redis behind nginx; the config is changed with a merge patch on
instance A, and the new behaviour is seen on instance B directly and through nginx.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from ssomw.admin.tokens import sha256_hash
from tests.e2e.stack import Stack
from tests.support.resolve import patch_localhost_resolution

pytestmark = pytest.mark.e2e
TOKEN = "ssomw-e2e-admin-token-0123456789abcdef"
ADMIN = {"admin": {"tokens": [{"name": "e2e", "hash": sha256_hash(TOKEN),
                               "scopes": ["config:read", "config:write"]}]}}
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with patch_localhost_resolution():
        started = Stack(tmp_path_factory.mktemp("admin-e2e"), backend="redis", instances=2,
                        overrides=ADMIN)
        try:
            started.start()
            yield started
        finally:
            started.stop()


def wait_for(predicate: Callable[[], bool], limit: float, started: float) -> float:
    while not predicate():
        assert time.monotonic() - started < limit, f"not within {limit} s"
        time.sleep(0.02)
    return time.monotonic() - started


def test_patch_on_one_instance_changes_the_other_within_two_seconds(stack: Stack):
    a, b = stack.gateways
    api = f"{a.url}/sso/api/v1"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = stack.url("app-a", "/docs/guide")

    def via_nginx() -> int:
        return requests.get(url, headers=JSON, allow_redirects=False, timeout=5).status_code

    def on_b() -> int:
        return requests.get(f"{b.url}/sso/auth", headers={**JSON, "X-Original-URL": url},
                            timeout=5).status_code

    assert via_nginx() == 401 and on_b() == 401
    current = requests.get(f"{api}/config", headers=auth, timeout=5)
    assert current.status_code == 200
    apps = current.json()["apps"]
    apps[0]["rules"] = [{"paths": ["^/docs/"], "policy": "bypass"}, *apps[0]["rules"]]
    changed = requests.patch(f"{api}/config", data=json.dumps({"apps": apps}), timeout=10,
                             headers={**auth, "If-Match": current.headers["ETag"],
                                      "Content-Type": "application/merge-patch+json"})
    assert changed.status_code == 200, changed.text
    started = time.monotonic()
    wait_for(lambda: on_b() == 200, 2.0, started)
    wait_for(lambda: all(via_nginx() == 200 for _ in range(4)), 2.0, started)
    # Other paths of the app still need a sign-in.
    assert requests.get(stack.url("app-a", "/page"), headers=JSON, timeout=5,
                        allow_redirects=False).status_code == 401
    # B serves the new version through its own API too.
    assert requests.get(f"{b.url}/sso/api/v1/config", headers=auth,
                        timeout=5).headers["ETag"] == changed.headers["ETag"]


def test_explain_with_a_user_needs_sessions_admin(stack: Stack):
    """Issue 14, item 9, on a real gateway: this token has config:read but not sessions:admin."""
    api = f"{stack.gateways[0].url}/sso/api/v1/explain"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = stack.url("app-b", "/")
    refused = requests.get(api, params={"url": url, "user": "alice"}, headers=auth, timeout=5)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope" and "user" not in refused.json()
    assert 'scope="sessions:admin"' in refused.headers["WWW-Authenticate"]
    plain = requests.get(api, params={"url": url}, headers=auth, timeout=5)
    assert plain.status_code == 200 and plain.json()["app"]["id"] == "app-b"
