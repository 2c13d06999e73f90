"""The signed identity assertion (contract §9, issue 20.2) through nginx: verified the way the
README tells an app to (its tested block, run as written), forged ones stripped, key rotation
with ``ssomw keys``."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.errors import InvalidClaimError
from joserfc.jwk import ECKey

from ssomw.integration.nginx import full_config, snippet_files
from tests.support.readme import readme_block, substitute

from .conftest import API, signed_in, start_stack
from .stack import REPO, Stack

HEADER = "X-Auth-Request-Jwt"


class AssertionStack(Stack):
    def config_dict(self) -> dict[str, Any]:
        config = super().config_dict()
        config["headers"] = {"assertion": HEADER}
        return config

    def nginx_conf(self) -> str:
        """As a user sets it up: `ssomw nginx --write-snippets DIR` for this configuration
        (the shipped files in nginx/ are for the defaults, which clear the header)."""
        snippets = self.workdir / "snippets"
        snippets.mkdir(exist_ok=True)
        config = self.config()
        for name, text in snippet_files(config).items():
            (snippets / name).write_text(text)
        return full_config(config, gateway=[g.bind for g in self.gateways],
                           listen=f"127.0.0.1:{self.port}",
                           cache_path=str(self.workdir / "nginx-cache"),
                           snippet_dir=str(snippets), cache=self.cache)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AssertionStack]:
    s = start_stack(tmp_path_factory, "assertion", AssertionStack)
    yield s
    s.stop()


def issuer(stack: Stack, app: str) -> str:
    return stack.url(app, "/sso")


def readme_verifier(stack: Stack, app: str) -> dict[str, Any]:
    """The README's verification code for ``app``, as an app would run it."""
    code = substitute(readme_block("assertion/verify"), {
        '"https://wiki.example.com/sso"': repr(issuer(stack, app)),
        'APP_ID = "wiki"': f"APP_ID = {app!r}"})
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md:assertion/verify", "exec"), namespace)  # noqa: S102
    return namespace


def seen_by_app(browser: requests.Session, url: str, **headers: str) -> dict[str, str]:
    response = browser.get(url, headers={**API, **headers})
    assert response.status_code == 200, response.status_code
    return response.json()["headers"]


def kid_of(token: str) -> str:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]


def test_the_assertion_verifies_against_the_published_keys(stack: AssertionStack):
    alice = signed_in(stack, "alice", "app-a")
    seen = seen_by_app(alice, stack.url("app-a", "/x"))
    verifier = readme_verifier(stack, "app-a")
    claims = verifier["verified_identity"](seen[HEADER], verifier["gateway_keys"]())
    assert claims["iss"] == issuer(stack, "app-a") and claims["aud"] == "app-a"
    assert claims["sub"] == seen["X-Auth-Request-User"] == "alice"
    assert claims["email"] == seen["X-Auth-Request-Email"]
    assert claims["groups"] == seen["X-Auth-Request-Groups"].split(",")
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert abs(claims["iat"] - time.time()) < 65  # made at most a minute ago
    # A token for app-b (same user, same keys) is refused where app-a checks its audience.
    other = seen_by_app(alice, stack.url("app-b", "/"))[HEADER]
    with pytest.raises(InvalidClaimError):
        verifier["verified_identity"](other, verifier["gateway_keys"]())
    jwks = requests.get(stack.url("app-a", "/sso/.well-known/jwks.json"), timeout=5)
    assert jwks.headers["Cache-Control"] == "public, max-age=60"
    assert all("d" not in key for key in jwks.json()["keys"])


def test_a_forged_assertion_never_reaches_an_app(stack: AssertionStack):
    mine = ECKey.generate_key("P-256", parameters={"kid": "forged"}, private=True)
    now = int(time.time())
    forged = jwt.encode({"alg": "ES256", "kid": "forged"},
                        {"iss": issuer(stack, "app-a"), "aud": "app-a", "sub": "root",
                         "groups": ["admins"], "iat": now, "exp": now + 300}, mine)
    alice = signed_in(stack, "alice", "app-a")
    for _ in range(2):  # the second answer may come from nginx's decision cache
        seen = seen_by_app(alice, stack.url("app-a", "/y"), **{HEADER: forged})
        assert seen[HEADER] != forged and "root" not in seen[HEADER]
    verifier = readme_verifier(stack, "app-a")
    assert verifier["verified_identity"](seen[HEADER], verifier["gateway_keys"]())["sub"] == \
        "alice"
    # A bypass path and an anonymous client: nothing to vouch for, the forgery is cleared.
    public = requests.get(stack.url("app-a", "/public/p"), headers={**API, HEADER: forged})
    assert public.status_code == 200 and HEADER not in public.json()["headers"]


def ssomw_keys(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    assert stack.gateway is not None
    return subprocess.run([str(REPO / ".venv/bin/ssomw"), "keys", *args, "-c",
                           str(stack.gateway.config_path)], capture_output=True, text=True,
                          timeout=60)


def test_key_rotation_keeps_the_old_key_published_while_the_new_one_signs(stack: AssertionStack):
    alice = signed_in(stack, "alice", "app-a")
    old_token = seen_by_app(alice, stack.url("app-a", "/z"))[HEADER]
    old_kid = kid_of(old_token)
    rotated = ssomw_keys(stack, "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.split()[3]
    assert new_kid != old_kid and f"previous key {old_kid} stays published" in rotated.stdout
    published = requests.get(stack.url("app-a", "/sso/.well-known/jwks.json"), timeout=5).json()
    assert [key["kid"] for key in published["keys"]] == [new_kid, old_kid]  # at once
    deadline = time.monotonic() + 10  # every worker reads the new set within 5 s
    while kid_of(token := seen_by_app(alice, stack.url("app-a", "/z"))[HEADER]) != new_kid:
        assert time.monotonic() < deadline, "the new key never signed"
        time.sleep(0.2)
    verifier = readme_verifier(stack, "app-a")
    keys = verifier["gateway_keys"]()
    assert verifier["verified_identity"](token, keys)["sub"] == "alice"
    assert verifier["verified_identity"](old_token, keys)["sub"] == "alice"  # still valid
    listed = ssomw_keys(stack, "list")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert lines[new_kid].endswith("active")
    assert "published until" in lines[old_kid]
    assert "2 key(s)" in listed.stdout
    assert "sealed" not in listed.stdout and '"d"' not in listed.stdout
