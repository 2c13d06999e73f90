"""URL credentials through a real `ssomw serve` on a password-protected Redis (issue 14, item 3).

The store URL and the directory URL carry passwords. The admin API (GET /config, export,
versions, audit, directory sync status), the CLI (`ssomw config export`, `ssomw check`) and
the gateway's log never show them; a PUT of the redacted document keeps them, and the gateway
keeps working on the Redis that needs the password.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests

from ssomw.admin.tokens import sha256_hash
from tests.support.gateway import GatewayProcess, ssomw_executable
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.e2e
REDIS_PW = "e2e-redis-pw-0d9f8a7b"
LDAP_PW = "e2e-ldap-pw-5c4b3a21"
READER = "ssomw-e2e-url-reader-0123456789abcdef"  # everything but config:secrets
SECRETS = "ssomw-e2e-url-secrets-0123456789abcde"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, str]]:
    workdir = tmp_path_factory.mktemp("url-redaction")
    with RedisServer(password=REDIS_PW) as redis:
        url = f"redis://:{REDIS_PW}@127.0.0.1:{redis.port}/0"
        config: dict[str, Any] = {
            "store": {"backend": "redis", "url": url},
            "session": {"secret_keys": ["k" * 40], "secure": False},
            "providers": [{"id": "idp", "issuer": "https://idp.example.com", "client_id": "gw",
                           "client_secret": "e2e-client-secret-value"}],
            "apps": [{"id": "wiki", "hosts": ["wiki.example.com"]}],
            "directory": {"ldap": {"url": f"ldap://cn=svc:{LDAP_PW}@127.0.0.1:1",
                                   "user_base": "ou=people,dc=example", "timeout": 1,
                                   "sync_on_sign_in": False}},
            "logging": {"level": "info", "format": "json"},
            "admin": {"tokens": [
                {"name": "reader", "hash": sha256_hash(READER),
                 "scopes": ["config:read", "config:write", "audit:read", "directory:sync"]},
                {"name": "secrets", "hash": sha256_hash(SECRETS),
                 "scopes": ["config:read", "config:secrets"]}]},
        }
        gateway = GatewayProcess(workdir / "gateway", config, workers=1).start()
        try:
            yield gateway, url
        finally:
            gateway.stop()


def call(gateway: GatewayProcess, method: str, path: str, token: str = READER,
         **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{gateway.url}/sso/api/v1{path}", headers=headers,
                            timeout=10, **kwargs)


def leaks(text: str) -> list[str]:
    return [secret for secret in (REDIS_PW, LDAP_PW) if secret in text]


def test_api_cli_and_log_never_show_url_passwords(served: tuple[GatewayProcess, str]):
    gateway, url = served
    current = call(gateway, "GET", "/config")
    assert current.status_code == 200 and leaks(current.text) == []
    assert current.json()["store"]["url"].startswith("redis://:***@127.0.0.1:")
    export = call(gateway, "GET", "/config/export", params={"secrets": "redact"})
    assert export.status_code == 200 and leaks(export.text) == []

    # The redacted document sent back with a change keeps both passwords.
    body = current.json()
    body["apps"][0]["allowed_groups"] = ["staff"]
    put = call(gateway, "PUT", "/config", json=body, headers={"If-Match": current.headers["ETag"]})
    assert put.status_code == 200, put.text
    assert [c["path"] for c in put.json()["diff"]] == ["apps"] and leaks(put.text) == []
    kept = call(gateway, "GET", "/config", token=SECRETS).json()
    assert kept["store"]["url"] == url
    assert kept["directory"]["ldap"]["url"] == f"ldap://cn=svc:{LDAP_PW}@127.0.0.1:1"
    assert requests.get(f"{gateway.url}/sso/readyz", timeout=5).status_code == 200

    for path in ("/config/versions", "/config/versions/1", "/config/versions/2", "/audit"):
        answer = call(gateway, "GET", path)
        assert answer.status_code == 200 and leaks(answer.text) == [], path

    # A failing directory sync reports (and logs) the URL without its password.
    assert call(gateway, "POST", "/directory/sync").status_code == 202
    deadline = time.monotonic() + 15
    while True:
        status = call(gateway, "GET", "/directory/sync/status").json()
        if status["last_error"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "ldap://cn=svc:***@127.0.0.1:1" in status["last_error"]["message"]
    assert leaks(json.dumps(status)) == []

    for args in (["config", "export"], ["check"]):
        result = subprocess.run([ssomw_executable(), *args, "-c", str(gateway.config_path)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert leaks(result.stdout + result.stderr) == [], args
    log = gateway.log_text()
    assert "directory sync (admin API) failed" in log and leaks(log) == []


def test_password_is_really_needed(served: tuple[GatewayProcess, str]):
    """The Redis of this test refuses clients without the password: the round trip above
    proves the gateway kept it, not that Redis let it in anyway."""
    _, url = served
    port = url.rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=int(port)).ping()
